"""User settings and window geometry, kept as JSON in the user config folder."""
import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

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


class SettingsModel:
    """Loads settings (ignoring a damaged file, which is logged) and saves them atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.settings = Settings()
        self.problem = ""  # why settings cannot be saved, once that is known

    def load(self) -> Settings:
        try:
            data = json.loads(self.path.read_text())
            known = {f.name: f.type for f in dataclasses.fields(Settings)}
            values = {k: v for k, v in data.items() if k in known and isinstance(v, type(getattr(Settings(), k)))}
            self.settings = Settings(**values)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError) as error:
            log.warning("%s: settings ignored (%s)", self.path, error)
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
