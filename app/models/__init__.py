"""App state: plain classes without widgets, each with load()/save() where it persists."""
from .history import CaptionHistory, HistoryEntry
from .job import JobState
from .registry import ModelEntry, ModelRegistry, RegistryError
from .settings import Settings, SettingsModel

__all__ = ["CaptionHistory", "HistoryEntry", "JobState", "ModelEntry", "ModelRegistry", "RegistryError",
           "Settings", "SettingsModel"]
