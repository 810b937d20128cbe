"""Where the app's files are: bundled assets (also inside a PyInstaller build) and per-user folders."""
import os
import sys
from pathlib import Path

import appdirs

APP_NAME = "ImageCaptioner"


def asset_path(*parts) -> Path:
    """A file under assets/, wherever the app runs from (source tree or PyInstaller's unpack folder)."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))
    return base.joinpath("assets", *parts)


def default_model_path() -> Path:
    return asset_path("models", "default.captioner")


def user_config_dir() -> Path:
    override = os.environ.get("IMAGE_CAPTIONER_CONFIG_DIR")
    return Path(override) if override else Path(appdirs.user_config_dir(APP_NAME))


def user_models_dir() -> Path:
    from ml.config import user_data_dir

    return user_data_dir() / "models"


def user_log_dir() -> Path:
    override = os.environ.get("IMAGE_CAPTIONER_CONFIG_DIR")
    return Path(override) / "logs" if override else Path(appdirs.user_log_dir(APP_NAME))
