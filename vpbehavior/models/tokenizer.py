"""placeholder"""
Tokenizer = canonicalize_text = tokenize_texts = None
