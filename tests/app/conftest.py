"""GUI tests run in a real Tk window on a virtual screen (Xvfb, started by scripts/test.sh). Each test gets
a window of its own, on a new user's folders, so the tests pass in any order (the suite shuffles them)."""
import gc
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

    # The windows of earlier tests are garbage now: free them here, on the main thread. Left to the garbage
    # collector, their Tk fonts and images were freed on whichever thread allocated next, a worker's, and
    # Tk called from that thread hung it (in CI a model load never finished).
    gc.collect()
    window = App()
    try:
        run_until(window.update, lambda: window.caption.captioner is not None, 180, "the model to load")
        run_until(window.update, lambda: window.caption.speech_checked, 30, "the speech probe's answer")
    except BaseException:
        window.close()  # never leave a half-set-up window behind for the next test
        raise
    yield window
    from app.views.widgets import MessageDialog

    for dialog in window.winfo_children():
        if isinstance(dialog, MessageDialog):
            dialog.destroy()
    window.close()


@pytest.fixture
def shipped_model_active():
    """No user models, so the shipped model is the active one, for tests that start the app in a process of
    its own: an earlier test may have made its trained model active in the shared data folder."""
    from app.paths import user_models_dir

    shutil.rmtree(user_models_dir(), ignore_errors=True)
