"""Encoder features for many photos: the resumable on-disk cache, and the table training reads a batch of rows at a time."""
