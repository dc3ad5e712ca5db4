// Tokenizer: see the README's architecture section.
