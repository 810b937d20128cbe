"""Photos captioned in this session, newest first."""
import datetime
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class HistoryEntry:
    path: Path
    caption: str
    model: str
    time: datetime.datetime = field(default_factory=datetime.datetime.now)


class CaptionHistory:
    def __init__(self, limit=200):
        self.limit, self.entries = limit, []

    def add(self, path, caption, model) -> HistoryEntry:
        entry = HistoryEntry(Path(path), caption, model)
        self.entries.insert(0, entry)
        del self.entries[self.limit:]
        return entry
