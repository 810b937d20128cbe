"""What captioning a photo gives back, in a module light enough for the app's state to hold it
without importing the decoder (and so TensorFlow)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ml.honesty.hedging import hedged_text


@dataclass
class CaptionResult:
    """One photo's caption, or the one-line reason it has none; `tags`: what the encoder recognises in
    the photo, ImageNet class names with probabilities, most probable first (ml/encoders/imagenet.py);
    `confidence` (0-1, None for an uncalibrated model), `unsure` and the `reasons` for it, and the label
    the caption contradicts (`looks_like`), from ml/honesty/confidence.py and ml/honesty/hedging.py."""

    path: Path
    caption: str = ""
    error: str = ""
    tags: list[tuple[str, float]] = field(default_factory=list)
    confidence: Optional[float] = None
    unsure: bool = False
    reasons: list[str] = field(default_factory=list)
    looks_like: str = ""

    def record(self) -> dict:
        """The result as JSON: the plain caption, the hedged text the app shows and speaks, how sure and why
        (what `python -m ml caption --jsonl` prints and a cluster job's shards hold)."""
        return {"image": str(self.path), "caption": self.caption, "text": self.text,
                "confidence": self.confidence, "unsure": self.unsure, "reasons": self.reasons,
                "looks_like": self.looks_like or None, "error": self.error, "tags": self.tags_json()}

    def tags_json(self) -> list[dict]:
        """The tags as JSON objects, as the CLI prints them and exports keep them."""
        return [{"label": label, "probability": probability} for label, probability in self.tags]

    @property
    def text(self) -> str:
        """What the app shows and speaks: the caption, hedged when unsure."""
        return hedged_text(self.caption, self.unsure, self.looks_like)
