"""Speak mode: for people who cannot see the screen (Tk gives screen readers nothing), the app says aloud
the control that gets the focus (name, role, state), page changes, progress milestones, results and
errors. Each announcement interrupts the one before: speech never queues behind itself."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .speech import SpeechService

log = logging.getLogger(__name__)


class Announcer:
    def __init__(self, speech: SpeechService, enabled: bool = False):
        self.speech, self.enabled = speech, enabled
        self.said: list[str] = []  # every announcement, newest last: the speech log (also in app.log)

    def say(self, text: str, always: bool = False) -> None:
        """Say `text` now, cutting off what is being said; only in Speak mode unless `always`."""
        text = " ".join(str(text).split())
        if not text or not (self.enabled or always):
            return
        self.said.append(text)
        log.info("said: %s", text)
        if self.speech.available:
            self.speech.interrupt()
            self.speech.speak(text)
