"""App state: plain classes without widgets, each with load()/save() where it persists."""
from .history import CaptionHistory, HistoryEntry
from .registry import ModelEntry, ModelRegistry, RegistryError
from .settings import Settings, SettingsModel

__all__ = ["CaptionHistory", "HistoryEntry", "ModelEntry", "ModelRegistry", "RegistryError",
           "Settings", "SettingsModel"]
