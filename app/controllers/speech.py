"""Speech on its own thread, one short-lived process per utterance (see app/speech_worker.py)."""
from __future__ import annotations

import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable, Optional

from ml.core.atomic import replace_atomically
from ml.core.types import PathLike

from ..paths import system_program_environment

log = logging.getLogger(__name__)
# The folder holding the app package, so `python -m app.speech_worker` works from any current folder.
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def worker_command(*args) -> list:
    """How to start the speech worker: `python -m app.speech_worker`, or the frozen app with a flag."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--speech-worker", *args]
    return [sys.executable, "-m", "app.speech_worker", *args]


def _kill_tree(process):
    """End the worker and its audio player (same process group on POSIX)."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _encode_mp3(wav, path):
    """WAV -> MP3 with ffmpeg, written atomically; returns (exit code, one-line error)."""
    def encode(temp):
        result = subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(wav), str(temp)],
                                capture_output=True, text=True, env=system_program_environment())
        if result.returncode != 0:
            raise OSError(f"ffmpeg failed ({result.stderr.strip()[:200]})")

    try:
        replace_atomically(path, encode, ".mp3")
    except OSError as error:
        return 1, f"{path}: {error}"
    return 0, ""


class SpeechService:
    """Speaks texts in order on a background thread; stop() silences it at once."""

    def __init__(self, rate: int = 165):
        self.rate = rate
        self.requests: queue.Queue = queue.Queue()
        self.available, self.reason = None, ""
        self._process: Optional[subprocess.Popen] = None
        self._speaking_now = False  # the running process speaks (not saves a file)
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="speech", daemon=True).start()

    def probe(self) -> tuple[Optional[bool], str]:
        """Check once (on the speech thread) whether a TTS engine exists; returns (ok, reason)."""
        done = threading.Event()
        self.requests.put(("probe", None, done))
        done.wait(30)
        return self.available, self.reason

    def speak(self, text: str, on_finished: Optional[Callable[[bool, str], None]] = None) -> None:
        self.requests.put(("speak", text, on_finished))

    def save(self, text: str, path: PathLike, on_finished: Optional[Callable[[bool, str], None]] = None) -> None:
        """Write the speech to a WAV file (MP3 when the name ends in .mp3 and ffmpeg exists)."""
        self.requests.put(("save", (text, Path(path)), on_finished))

    def stop(self) -> None:
        """End the current utterance at once and drop the ones waiting."""
        while True:
            try:
                self.requests.get_nowait()
            except queue.Empty:
                break
        with self._lock:
            if self._process and self._process.poll() is None:
                _kill_tree(self._process)

    def interrupt(self) -> None:
        """End the utterance being spoken and drop the ones waiting, so the next one is said at once and
        speech never queues behind itself; files being saved go on."""
        waiting = []
        while True:
            try:
                waiting.append(self.requests.get_nowait())
            except queue.Empty:
                break
        for request in waiting:
            if request[0] != "speak":
                self.requests.put(request)
        with self._lock:
            if self._speaking_now and self._process and self._process.poll() is None:
                _kill_tree(self._process)

    def _run(self):
        while True:
            kind, payload, callback = self.requests.get()
            if kind == "probe":
                code, error = self._call("--probe")
                self.available, self.reason = code == 0, error
                callback.set()
                continue
            if kind == "speak":
                self._speaking_now = True
                code, error = self._call("--text", payload, "--rate", str(self.rate))
                self._speaking_now = False
            else:
                code, error = self._save(*payload)
            if callback is not None:
                callback(code == 0, error)

    def _save(self, text, path):
        if path.suffix.lower() != ".mp3":
            return self._call("--text", text, "--rate", str(self.rate), "--wav", str(path))
        if not shutil.which("ffmpeg"):
            return 1, f"{path}: MP3 needs ffmpeg, which is not installed; save as .wav instead"
        with tempfile.TemporaryDirectory() as scratch:
            wav = Path(scratch, "speech.wav")
            code, error = self._call("--text", text, "--rate", str(self.rate), "--wav", str(wav))
            if code != 0:
                return code, error
            return _encode_mp3(wav, path)

    def _call(self, *args):
        with self._lock:
            process = subprocess.Popen(worker_command(*args), cwd=SOURCE_ROOT, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                       start_new_session=os.name == "posix")
            self._process = process
        _, stderr = process.communicate()
        if process.returncode < 0:
            return process.returncode, "stopped"
        return process.returncode, stderr.strip().splitlines()[-1] if stderr.strip() else ""
