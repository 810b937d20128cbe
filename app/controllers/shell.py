"""What a controller needs from the window around it, and nothing more: errors and notices said to the user,
the file and question dialogs, and the clipboard. Controllers are given a Shell, never the application, so
they are built and tested with a stand-in (tests/app/test_controllers.py) and import nothing above them."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Protocol


class DialogsLike(Protocol):
    """The questions a controller asks the user (app/dialogs.py: native Tk dialogs)."""

    def confirm(self, title: str, question: str) -> bool: ...
    def choose(self, title: str, question: str) -> Optional[bool]: ...
    def open_photo(self, start_dir: str = "") -> Optional[str]: ...
    def choose_folder(self, title: str) -> Optional[str]: ...
    def save_speech(self, photo_path: Optional[Path]) -> Optional[str]: ...
    def save_captions(self, folder: Optional[Path], export_format: Any) -> Optional[str]: ...
    def open_model(self) -> Optional[str]: ...
    def save_model(self, name: str) -> Optional[str]: ...


class Shell(Protocol):
    """The application window as its controllers see it."""

    dialogs: DialogsLike
    notices: list[str]  # what the user must know from start-up on (settings not kept, no log file)

    def show_error(self, message: str) -> None:
        """One line in a dialog; details are in the log."""

    def notify(self, message: str) -> None:
        """Something the user must know that is not an error."""

    def announce(self, message: str) -> None:
        """Said aloud in Speak mode (a result, a progress milestone); nothing otherwise."""

    def clipboard_get(self) -> str: ...
    def clipboard_clear(self) -> None: ...
    def clipboard_append(self, string: str, /) -> None: ...
