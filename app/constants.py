"""Names and sizes shared by views and controllers."""
from enum import Enum

from ml.core.defaults import DECODER_TYPES, DEFAULT_DECODER, DEFAULT_ENCODER
from ml.encoders.registry import ENCODERS


class Page(str, Enum):
    CAPTION = "Caption"
    TRAIN = "Train"
    FOLDER = "Folder"
    MODELS = "Models"


class Theme(str, Enum):
    SYSTEM = "System"
    LIGHT = "Light"
    DARK = "Dark"


class ExportFormat(str, Enum):
    SIDECAR = "txt sidecars"
    CSV = "CSV"
    JSON = "JSON"
    METADATA = "into the photos"  # EXIF/XMP/PNG description in each photo (ml/outputs/metadata.py)

    @property
    def button_text(self) -> str:
        return "Save into photos" if self is ExportFormat.METADATA else f"Export {self.value}"


def percent_text(fraction: float) -> str:
    """0.72 -> '72 %' (with the space people read it with)."""
    return f"{fraction:.0%}".replace("%", " %")


def format_duration(seconds: float) -> str:
    """'4 min 10 s', '35 s': how long is left, for people."""
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


# How often the UI thread looks at the workers' queue, in milliseconds.
POLL_MS = 50
PREVIEW_SIZE = (560, 420)  # the smallest preview; it grows with the window
PREVIEW_SOURCE_SIZE = (1920, 1440)  # photos are scaled to this once (on a worker), then fitted on resize
MIN_WINDOW = (960, 540)  # fits a 1024x600 screen with a task bar
SHORTCUTS = [
    ("Ctrl+O", "Open a photo"),
    ("Ctrl+Enter", "Caption the photo"),
    ("Ctrl+Shift+S", "Speak the caption"),
    ("Escape", "Stop speaking"),
    ("Ctrl+C", "Copy the caption (when no text is selected)"),
    ("Ctrl+V", "Describe a copied photo or photo file"),
    ("Ctrl+Z", "Undo the last Save into photo(s): the files put back as they were"),
    ("Ctrl+1 … Ctrl+4", "Caption, Train, Folder, Models pages"),
    ("Tab, Shift+Tab", "Next, previous control (Space or Enter presses it)"),
    ("F1", "This list"),
    ("F2", "Speak mode on or off: every control, page and result said aloud"),
    ("F3", "Read the Caption page aloud (photo, caption, how sure, what the encoder sees)"),
]

# The Train page's choices are the pipeline's own, with the pipeline's defaults preselected.
ENCODER_CHOICES = tuple(ENCODERS)
DECODER_CHOICES = DECODER_TYPES
__all__ = ["DECODER_CHOICES", "DEFAULT_DECODER", "DEFAULT_ENCODER", "ENCODER_CHOICES", "MIN_WINDOW", "POLL_MS",
           "PREVIEW_SIZE", "PREVIEW_SOURCE_SIZE", "SHORTCUTS", "ExportFormat", "Page", "Theme", "format_duration", "percent_text"]
