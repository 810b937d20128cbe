"""Progress reports and cancellation shared by every long job (features, training, batch captioning)."""
import time
from dataclasses import dataclass, field


class Cancelled(Exception):
    """Raised when a job stops because its cancel flag was set; finished work is kept."""


@dataclass(frozen=True)
class Progress:
    """One report from a long job: `done` of `total` units of `phase`, rate per second, seconds left."""

    phase: str
    done: int
    total: int
    rate: float = 0.0
    eta_s: float = 0.0
    message: str = ""
    values: dict = field(default_factory=dict)  # e.g. {"loss": 3.1, "val_loss": 3.4} at an epoch end


class ProgressMeter:
    """Turns 'n more done' into Progress reports with a rate and ETA measured since start."""

    def __init__(self, phase, total, on_progress=None, already_done=0):
        self.phase, self.total, self.on_progress = phase, total, on_progress
        self.done = already_done
        self._start_done, self._start_time = already_done, time.monotonic()

    def advance(self, count=1, message="", values=None):
        self.done += count
        if self.on_progress is None:
            return
        elapsed = max(time.monotonic() - self._start_time, 1e-9)
        rate = (self.done - self._start_done) / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        self.on_progress(Progress(self.phase, self.done, self.total, rate, eta, message, values or {}))


def check_cancel(cancel):
    """Raise Cancelled if the job's cancel flag (anything with is_set()) is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()
