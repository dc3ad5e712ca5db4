// Imaging: see the README's architecture section.
