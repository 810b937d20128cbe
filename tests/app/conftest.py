"""GUI tests run in a real Tk window on a virtual screen (Xvfb, started by scripts/test.sh). Each test gets
a window of its own, on a new user's folders, so the tests pass in any order (the suite shuffles them)."""
import shutil

import pytest

from app.event_loop import run_until


@pytest.fixture
def app(display, tmp_path, monkeypatch):
    """The real app with its own settings folder, no user models, history or folder captions."""
    from app.paths import user_data_dir, user_models_dir

    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("IMAGE_CAPTIONER_CONFIG_DIR", str(config))
    # Auto-speak off: these tests are about other things, and this machine has no sound card to speak
    # with (speaking is tested on its own, as is a caption spoken at once when auto-speak is on).
    (config / "settings.json").write_text('{"auto_speak": false}')
    shutil.rmtree(user_models_dir(), ignore_errors=True)
    shutil.rmtree(user_data_dir() / "folder-captions", ignore_errors=True)
    (user_data_dir() / "history.json").unlink(missing_ok=True)
    from app.application import App

    window = App()
    run_until(window.update, lambda: window.caption.captioner is not None, 180, "the model to load")
    run_until(window.update, lambda: window.caption.speech.available is not None, 30, "the speech probe")
    yield window
    from app.views.widgets import MessageDialog

    for dialog in window.winfo_children():
        if isinstance(dialog, MessageDialog):
            dialog.destroy()
    window.close()
