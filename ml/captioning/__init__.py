"""The narrow inference API the CLI and the app use (load a model file, caption photos) and what it gives back."""
