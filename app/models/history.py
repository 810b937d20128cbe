"""Photos captioned, newest first, kept across restarts (a JSON file in the user data folder)."""
from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ml.captioning.results import CaptionResult
from ml.core.atomic import write_text_atomically
from ml.core.types import PathLike

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryEntry:
    path: Path
    caption: str
    model: str
    time: datetime.datetime = field(default_factory=datetime.datetime.now)
    # How sure the model was, as shown (unsure, confidence, reasons, looks_like, tags): a reopened entry is
    # shown and said with its hedge again (it came back as a bare caption, stated as fact).
    facts: dict = field(default_factory=dict)

    def result(self) -> CaptionResult:
        """The entry as the caption result it was shown as (only the caption, for an entry without facts)."""
        facts = self.facts
        tags = [(str(label), float(p)) for label, p in facts.get("tags", []) if isinstance(p, (int, float))]
        confidence = facts.get("confidence")
        return CaptionResult(self.path, self.caption, tags=tags,
                             confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
                             unsure=facts.get("unsure") is True,
                             reasons=[str(reason) for reason in facts.get("reasons", []) if isinstance(reason, str)],
                             looks_like=str(facts.get("looks_like", "")))


def facts_of(result: CaptionResult) -> dict:
    return {"unsure": result.unsure, "confidence": result.confidence, "reasons": list(result.reasons),
            "looks_like": result.looks_like, "tags": [list(tag) for tag in result.tags]}


class CaptionHistory:
    """The captions made, newest first: one entry per photo and caption (a repeat moves to the top)."""

    def __init__(self, limit: int = 200, path: Optional[Path] = None):
        self.limit, self.path = limit, path
        self.entries: list[HistoryEntry] = []  # newest first

    def add(self, photo: PathLike, caption: str, model: str, facts: Optional[dict] = None) -> HistoryEntry:
        entry = HistoryEntry(Path(photo), caption, model, facts=facts or {})
        self.entries = [entry] + [e for e in self.entries if (e.path, e.caption) != (entry.path, caption)]
        del self.entries[self.limit:]
        self.save()
        return entry

    def clear(self) -> None:
        self.entries = []
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        rows = [{"photo": str(e.path), "caption": e.caption, "model": e.model, "time": e.time.isoformat(),
                 "facts": e.facts} for e in self.entries]
        try:
            write_text_atomically(self.path, json.dumps(rows, ensure_ascii=False))
        except OSError as error:
            log.warning("%s: history not kept (%s)", self.path, error.strerror or error)

    def load(self) -> list[HistoryEntry]:
        """The saved history; a damaged file is logged and ignored (the history starts empty)."""
        if self.path is None or not self.path.is_file():
            return self.entries
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            self.entries = [HistoryEntry(Path(r["photo"]), str(r["caption"]), str(r.get("model", "")),
                                         datetime.datetime.fromisoformat(r["time"]),
                                         r["facts"] if isinstance(r.get("facts"), dict) else {})
                            for r in rows][:self.limit]
        except (OSError, ValueError, TypeError, KeyError) as error:
            log.warning("%s: history ignored (%s)", self.path, error)
        return self.entries
