"""Where the app's files are: bundled assets (also inside a PyInstaller build) and per-user folders."""
import os
import sys
import tempfile
from pathlib import Path

import appdirs

from ml.core.defaults import APP_NAME, asset_path, default_model_path, user_data_dir, user_log_dir, user_models_dir

__all__ = ["APP_NAME", "asset_path", "default_model_path", "system_program_environment", "user_config_dir",
           "user_data_dir", "user_log_dir", "user_models_dir"]


def system_program_environment() -> dict[str, str]:
    """The environment for a system program the app starts (aplay, ffmpeg). The packaged app's launcher
    points LD_LIBRARY_PATH at the bundled libraries, which a system program must not load; PyInstaller
    keeps the user's own value in LD_LIBRARY_PATH_ORIG."""
    environment = dict(os.environ)
    if getattr(sys, "frozen", False):
        original = environment.pop("LD_LIBRARY_PATH_ORIG", None)
        if original is None:
            environment.pop("LD_LIBRARY_PATH", None)
        else:
            environment["LD_LIBRARY_PATH"] = original
    return environment


def user_config_dir() -> Path:
    override = os.environ.get("IMAGE_CAPTIONER_CONFIG_DIR")
    return Path(override) if override else Path(appdirs.user_config_dir(APP_NAME))


def use_scratch_user_folders(keep_data_dir: bool = False) -> Path:
    """Point settings, logs (and, unless kept, models and caches) at a new empty folder, so a script
    that drives the app (screenshots, benchmarks) shows what a new user sees; returns the folder."""
    scratch = Path(tempfile.mkdtemp(prefix="image-captioner-"))
    os.environ["IMAGE_CAPTIONER_CONFIG_DIR"] = str(scratch / "config")
    if not keep_data_dir:
        os.environ.setdefault("IMAGE_CAPTIONER_DATA_DIR", str(scratch / "data"))
    return scratch
