"""Run the app's event loop until something has happened: for tests, screenshots and benchmarks that
drive the real window from the outside, as a user's idle window would run."""
import time
from typing import Callable


def run_until(step: Callable[[], object], condition: Callable[[], object], timeout: float = 120.0,
              what: str = "condition", interval: float = 0.02) -> None:
    """Call step() (a window's update, or a TaskRunner's poll) until condition() is true;
    TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        step()
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def run_for(step: Callable[[], object], seconds: float, interval: float = 0.02) -> None:
    """Keep the loop running for a while (to let drawing settle before a screenshot)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        step()
        time.sleep(interval)
