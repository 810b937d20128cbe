"""What captioning a photo gives back, in a module light enough for the app's state to hold it
without importing the decoder (and so TensorFlow)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class CaptionResult:
    """One photo's caption, or the one-line reason it has none."""

    path: Path
    caption: str = ""
    error: str = ""
