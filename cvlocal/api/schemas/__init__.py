"""Request and response models, one module per resource: what clients send, checked, and what they get back."""
