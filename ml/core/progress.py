"""Progress reports and cancellation shared by every long job (features, training, batch captioning)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable, Optional, Protocol


class Phase(StrEnum):
    """What a long job is doing; its value is the word progress bars show."""

    FEATURES = "features"  # encoder features of the data set's photos
    TRAIN = "train"  # one report per training batch
    EPOCH = "epoch"  # one report per finished epoch, with its losses in `values`
    FINE_TUNE = "fine-tune"  # self-critical fine-tuning batches
    CAPTION = "caption"  # photos captioned


class Cancelled(Exception):
    """Raised when a job stops because its cancel flag was set; finished work is kept."""


@dataclass(frozen=True)
class Progress:
    """One report from a long job: `done` of `total` units of `phase`, rate per second, seconds left."""

    phase: Phase
    done: int
    total: int
    rate: float = 0.0
    eta_s: float = 0.0
    message: str = ""
    values: dict = field(default_factory=dict)  # e.g. {"loss": 3.1, "val_loss": 3.4} at an epoch end

    @property
    def fraction(self) -> float:
        """How much is done, from 0 to 1 (0 while the total is not known)."""
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


class CancelFlag(Protocol):
    """What a job needs of its cancel flag (threading.Event has it)."""

    def is_set(self) -> bool: ...


class ProgressMeter:
    """Turns 'n more done' into Progress reports with a rate and ETA measured since start."""

    def __init__(self, phase: Phase, total: int, on_progress: Optional[ProgressCallback] = None,
                 already_done: int = 0):
        self.phase, self.total, self.on_progress = phase, total, on_progress
        self.done = already_done
        self._start_done, self._start_time = already_done, time.monotonic()

    def advance(self, count: int = 1, message: str = "", values: Optional[dict] = None) -> None:
        self.done += count
        if self.on_progress is None:
            return
        elapsed = max(time.monotonic() - self._start_time, 1e-9)
        rate = (self.done - self._start_done) / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        self.on_progress(Progress(self.phase, self.done, self.total, rate, eta, message, values or {}))


def check_cancel(cancel: Optional[CancelFlag]) -> None:
    """Raise Cancelled if the job's cancel flag (anything with is_set()) is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()
