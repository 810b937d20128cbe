"""Work off the UI thread: lanes of worker threads whose results reach the UI through one queue.

Each lane is one thread that runs its jobs in order (so two captions never race for the model),
and separate lanes run side by side (captioning stays usable while training). The UI thread calls
poll() from Tk's after() loop; callbacks run there, so only the UI thread touches widgets.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable, Optional

from ml.core.progress import Cancelled, Progress

log = logging.getLogger(__name__)


class Lane:
    """One worker thread running its jobs in order."""

    def __init__(self, name: str, results: queue.Queue):
        self.jobs: queue.Queue = queue.Queue()
        self.results = results
        threading.Thread(target=self._run, name=f"lane-{name}", daemon=True).start()

    def _run(self):
        while True:
            work, callbacks, cancel = self.jobs.get()
            on_done, on_error, on_progress, on_cancelled = callbacks

            def report(progress, on_progress=on_progress):
                self.results.put((False, on_progress, progress))

            try:
                result = work(report, cancel)
            except Cancelled:
                self.results.put((True, on_cancelled, None))
            except Exception as error:  # every failure goes back to the UI as a one-line message
                log.exception("background job failed")
                self.results.put((True, on_error, error))
            else:
                self.results.put((True, on_done, result))


class TaskRunner:
    """Runs `work(report, cancel)` on a named lane and hands its outcome to callbacks on the UI thread."""

    def __init__(self):
        self.results: queue.Queue = queue.Queue()
        self.lanes = {}
        self.unfinished = 0  # jobs whose final callback has not run yet

    def submit(self, lane: str, work: Callable[[Callable[[Progress], None], threading.Event], Any],
               on_done: Optional[Callable[[Any], None]] = None,
               on_error: Optional[Callable[[Exception], None]] = None,
               on_progress: Optional[Callable[[Progress], None]] = None,
               on_cancelled: Optional[Callable[[None], None]] = None) -> threading.Event:
        """Queue a job; returns its cancel event (work sees it as its `cancel` argument)."""
        if lane not in self.lanes:
            self.lanes[lane] = Lane(lane, self.results)
        self.unfinished += 1
        cancel = threading.Event()
        self.lanes[lane].jobs.put((work, (on_done, on_error, on_progress, on_cancelled), cancel))
        return cancel

    def post(self, callback: Callable[[Any], None], value: Any) -> None:
        """Hand a value from any thread to a callback on the UI thread (for services with own threads)."""
        self.results.put((False, callback, value))

    def poll(self, limit: int = 200) -> None:
        """Deliver up to `limit` outcomes and progress reports; call on the UI thread only."""
        for _ in range(limit):
            try:
                final, callback, value = self.results.get_nowait()
            except queue.Empty:
                return
            if final:
                self.unfinished -= 1
            if callback is not None:
                callback(value)
