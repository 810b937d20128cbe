"""Foundations every other package stands on; imports nothing else of ml.

errors    UserError (one line naming the file and the problem) and its kinds
atomic    the one way a file is written: temp file, rename; folder locks; setting damaged files aside
types     names for what public functions take and give (PathLike, FeaturesByName, ...)
progress  Progress reports, ProgressMeter, cancel flags
defaults  the pipeline's defaults (UPPER_CASE constants) and the user folders
schema    JSON Schema checks of files a user can hand the app
native_log  native code's stderr (TensorFlow's C++ logging) into the log folder, off the terminal
"""
from ml.core.errors import BundleError, TrainingError, UserError
from ml.core.types import PathLike

__all__ = ["BundleError", "PathLike", "TrainingError", "UserError"]
