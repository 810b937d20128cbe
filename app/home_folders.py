"""Keep the app's libraries out of the user's home folder (issue 26 item 9).

customtkinter, when imported on Linux, makes ~/.fonts and copies its Roboto and shapes fonts into it, so that Tk
(through fontconfig) finds them; Keras makes ~/.keras/keras.json when imported. The app imports customtkinter with
HOME pointing at a scratch folder, then hands fontconfig the folder where customtkinter keeps its fonts, and gives
Keras a folder in the app's own data folder (where a downloaded Xception's weights go too).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

FONTCONFIG = "libfontconfig.so.1"  # Tk's Xft has loaded it by the time fonts are added


def import_customtkinter() -> None:
    """Import customtkinter without its copy into ~/.fonts, its fonts still found by Tk."""
    if not sys.platform.startswith("linux") or "customtkinter" in sys.modules:
        import customtkinter  # noqa: F401  (elsewhere it loads its fonts without writing any file)
        return
    home = os.environ.get("HOME")
    with tempfile.TemporaryDirectory(prefix="image-captioner-fonts-") as scratch:
        os.environ["HOME"] = scratch
        try:
            import customtkinter
        finally:
            if home is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = home
    add_font_folder(Path(customtkinter.__file__).parent / "assets" / "fonts")


def add_font_folder(folder: Path) -> bool:
    """Make the fonts in `folder` (and its subfolders) known to this process's fontconfig, which Tk draws text
    with; False (and a line in the log) where fontconfig cannot be loaded: Tk then falls back to another font."""
    try:
        fontconfig = ctypes.CDLL(ctypes.util.find_library("fontconfig") or FONTCONFIG)
        fontconfig.FcConfigAppFontAddDir.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        added = bool(fontconfig.FcConfigAppFontAddDir(None, os.fsencode(folder)))
    except (OSError, AttributeError) as error:
        log.warning("customtkinter's fonts not added (%s): Tk uses its default font", error)
        return False
    if not added:
        log.warning("customtkinter's fonts not added from %s: Tk uses its default font", folder)
    return added


def keep_keras_in_app_data() -> None:
    """Keras' settings and downloads in the app's data folder, not ~/.keras (unless KERAS_HOME says otherwise)."""
    from ml.core.defaults import user_data_dir

    os.environ.setdefault("KERAS_HOME", str(user_data_dir() / "keras"))
