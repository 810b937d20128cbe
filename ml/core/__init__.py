"""Foundations every other package stands on: error types, atomic file writes, type names, progress and cancel, defaults, JSON Schema checks. Imports nothing else of ml."""
