"""Native code's stderr (TensorFlow's C++ logging, LiteRT's notes) into a log file, off the terminal."""
from __future__ import annotations

import faulthandler
import os
import sys

from ml.core import defaults as config


def silence_native_stderr() -> None:
    """Send what native code writes to the process's stderr (TensorFlow's C++ logging, which ignores
    TF_CPP_MIN_LOG_LEVEL; LiteRT's delegate notes) to native.log in the user log folder, not to the terminal.

    Python's own stderr keeps the real terminal, so our one-line errors and progress bars still show, and
    faulthandler writes there too: a native crash (a CHECK failure, a segfault) says so on the terminal with
    the Python stack, and its C++ message is in the log. Set IMAGE_CAPTIONER_DEBUG=1 to see everything.
    """
    faulthandler.enable()  # on the terminal's stderr; kept there when fd 2 moves below
    if os.environ.get("IMAGE_CAPTIONER_DEBUG") == "1":
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    try:
        config.user_log_dir().mkdir(parents=True, exist_ok=True)
        native = os.open(config.user_log_dir() / "native.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:  # no writable log folder: native noise goes nowhere rather than onto the terminal
        native = os.open(os.devnull, os.O_WRONLY)
    os.dup2(native, 2)
    os.close(native)
    sys.stderr = os.fdopen(terminal, "w", buffering=1)
    faulthandler.enable(file=sys.stderr)
