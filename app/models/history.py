"""Photos captioned in this session, newest first."""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from ml.annotations import PathLike


@dataclass(frozen=True)
class HistoryEntry:
    path: Path
    caption: str
    model: str
    time: datetime.datetime = field(default_factory=datetime.datetime.now)


class CaptionHistory:
    def __init__(self, limit: int = 200):
        self.limit = limit
        self.entries: list[HistoryEntry] = []  # newest first

    def add(self, path: PathLike, caption: str, model: str) -> HistoryEntry:
        entry = HistoryEntry(Path(path), caption, model)
        self.entries.insert(0, entry)
        del self.entries[self.limit:]
        return entry
