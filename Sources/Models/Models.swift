// Models: see the README's architecture section.
