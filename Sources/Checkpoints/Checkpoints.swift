// Checkpoints: see the README's architecture section.
