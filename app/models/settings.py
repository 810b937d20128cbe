"""User settings and window geometry, kept as JSON in the user config folder."""
import dataclasses
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ml.core.atomic import write_text_atomically

log = logging.getLogger(__name__)


@dataclass
class Settings:
    theme: str = "System"
    auto_speak: bool = True  # describe and speak with one action: the app is also for people who cannot see the photo
    beam_width: int = 5
    speech_rate: int = 165  # words per minute
    geometry: str = "1180x760"
    last_open_dir: str = ""
    speak_mode: bool = False  # say each control, page, milestone, result and error aloud (F2)


# What each setting may hold; a value that fails is reset to its default, field by field (a hand-edited or
# damaged file must never stop the app from starting).
VALID: dict[str, Callable[[Any], bool]] = {
    "theme": lambda value: value in ("System", "Light", "Dark"),
    "auto_speak": lambda value: isinstance(value, bool),
    "beam_width": lambda value: type(value) is int and 1 <= value <= 20,
    "speech_rate": lambda value: type(value) is int and 50 <= value <= 500,
    "geometry": lambda value: isinstance(value, str) and re.fullmatch(r"\d{2,5}x\d{2,5}([+-]-?\d{1,5}){0,2}", value) is not None,
    "last_open_dir": lambda value: isinstance(value, str) and "\0" not in value,
    "speak_mode": lambda value: isinstance(value, bool),
}


class SettingsModel:
    """Loads settings (ignoring a damaged file, which is logged) and saves them atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.settings = Settings()
        self.problem = ""  # why settings cannot be saved, once that is known
        self.reset: list[str] = []  # settings found invalid in the file and reset to their defaults
        self.first_launch = False  # no settings file was found: the app has not run for this user before

    @property
    def notice(self) -> str:
        """What the user must know about their settings, in one line (empty when nothing)."""
        parts = [self.problem] if self.problem else []
        if self.reset:
            parts.append(f"settings reset to defaults (not valid in {self.path.name}): {', '.join(self.reset)}")
        return "; ".join(parts)

    def load(self) -> Settings:
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            self.first_launch = True
            return self.settings
        except (OSError, ValueError, TypeError, RecursionError) as error:
            log.warning("%s: settings ignored (%s)", self.path, error)
            self.reset = ["all"]
            return self.settings
        self.reset = sorted(name for name, valid in VALID.items() if name in data and not valid(data[name]))
        if self.reset:
            log.warning("%s: invalid settings reset to defaults: %s", self.path, ", ".join(self.reset))
        self.settings = Settings(**{name: data[name] for name, valid in VALID.items()
                                    if name in data and valid(data[name])})
        return self.settings

    def save(self) -> None:
        """Keep the settings; where the config folder cannot be written, they last this session only
        (said once in the log and in `problem`), and the app goes on."""
        try:
            write_text_atomically(self.path, json.dumps(dataclasses.asdict(self.settings), indent=2))
        except OSError as error:
            if not self.problem:
                self.problem = f"settings are not kept: {self.path.parent} is not writable ({error.strerror or error})"
                log.warning("%s", self.problem)

    def update(self, **changes) -> None:
        self.settings = dataclasses.replace(self.settings, **changes)
        self.save()
