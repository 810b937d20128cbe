"""Photos captioned, newest first, kept across restarts (a JSON file in the user data folder)."""
from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ml.core.atomic import write_text_atomically
from ml.core.types import PathLike

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryEntry:
    path: Path
    caption: str
    model: str
    time: datetime.datetime = field(default_factory=datetime.datetime.now)


class CaptionHistory:
    """The captions made, newest first: one entry per photo and caption (a repeat moves to the top)."""

    def __init__(self, limit: int = 200, path: Optional[Path] = None):
        self.limit, self.path = limit, path
        self.entries: list[HistoryEntry] = []  # newest first

    def add(self, photo: PathLike, caption: str, model: str) -> HistoryEntry:
        entry = HistoryEntry(Path(photo), caption, model)
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
        rows = [{"photo": str(e.path), "caption": e.caption, "model": e.model, "time": e.time.isoformat()}
                for e in self.entries]
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
                                         datetime.datetime.fromisoformat(r["time"])) for r in rows][:self.limit]
        except (OSError, ValueError, TypeError, KeyError) as error:
            log.warning("%s: history ignored (%s)", self.path, error)
        return self.entries
