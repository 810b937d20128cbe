"""The caption model in use: the one loaded Captioner that the Caption page loads and the Folder page
captions with (one copy in memory, one model for both pages)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ml.captioning.captioner import Captioner


class ModelSession:
    """Which model file is loaded, and the Captioner made from it (None while none is)."""

    def __init__(self) -> None:
        self.captioner: Optional[Captioner] = None
        self.path: Optional[Path] = None

    def hold(self, captioner: Captioner) -> None:
        self.captioner, self.path = captioner, captioner.bundle.path
