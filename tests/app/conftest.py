"""GUI tests run in a real Tk window on a virtual screen (Xvfb), started here when none is set."""
import os
import shutil
import subprocess
import time

import pytest


@pytest.fixture(scope="session")
def display():
    """A DISPLAY for Tk: the one given, else an Xvfb started for this test session."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if not shutil.which("Xvfb"):
        if os.environ.get("CI") == "true":
            pytest.fail("Xvfb is not installed (scripts/setup.sh installs it)")
        pytest.skip("no DISPLAY and no Xvfb")
    number = f":{90 + os.getpid() % 9}"
    server = subprocess.Popen(["Xvfb", number, "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    os.environ["DISPLAY"] = number
    yield number
    server.terminate()


def pump(app, condition, timeout=120.0, what="condition"):
    """Run the Tk event loop until condition() is true, as a user's idle window would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.update()
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def app(display, tmp_path_factory):
    """The real app with its own settings folder and an empty user model folder."""
    from app.paths import user_models_dir

    os.environ["IMAGE_CAPTIONER_CONFIG_DIR"] = str(tmp_path_factory.mktemp("config"))
    shutil.rmtree(user_models_dir(), ignore_errors=True)
    from app.application import App

    window = App()
    pump(window, lambda: window.caption.captioner is not None, 180, "the model to load")
    pump(window, lambda: window.caption.speech.available is not None, 30, "the speech probe")
    yield window
    for dialog in window.winfo_children():
        if dialog.winfo_class() == "CTkToplevel":
            dialog.destroy()
    window.close()
