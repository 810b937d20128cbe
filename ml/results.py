"""What captioning a photo gives back, in a module light enough for the app's state to hold it
without importing the decoder (and so TensorFlow)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CaptionResult:
    """One photo's caption, or the one-line reason it has none; `tags`: what the encoder recognises in
    the photo, ImageNet class names with probabilities, most probable first (ml/imagenet.py)."""

    path: Path
    caption: str = ""
    error: str = ""
    tags: list[tuple[str, float]] = field(default_factory=list)
