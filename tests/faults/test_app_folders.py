"""The app starts, works and closes with any of its folders unwritable (no log file, settings not kept, said
once beside 'Ready'), says in one line when there is no display, and keeps 'Speech is off' in view.
Before: a read-only log folder ended start-up with a traceback, a read-only config folder made the window
impossible to close, no DISPLAY gave a 12-line Tk traceback, and 'Ready' overwrote 'Speech is off'."""
import os
import subprocess
import sys

from tests.conftest import REPO

RUN_AND_CLOSE = """
from app.application import App
from app.event_loop import run_until
app = App()
run_until(app.update, lambda: app.caption.captioner is not None and app.caption.speech_checked, 300)
print(app.pages['Caption'].status_label.cget('text'))
app.close()
print('closed')
"""


def _run_app(**env):
    return subprocess.run([sys.executable, "-c", RUN_AND_CLOSE], cwd=REPO, env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def test_a_read_only_config_and_log_folder_still_opens_works_and_closes(display, read_only_folder):
    result = _run_app(IMAGE_CAPTIONER_CONFIG_DIR=str(read_only_folder))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    status, closed = result.stdout.strip().splitlines()[-2:]
    assert status.startswith("Ready") and "settings are not kept" in status and "no log file" in status
    assert closed == "closed"


def test_a_read_only_data_folder_still_captions(display, read_only_folder, tmp_path):
    result = _run_app(IMAGE_CAPTIONER_CONFIG_DIR=str(tmp_path), IMAGE_CAPTIONER_DATA_DIR=str(read_only_folder))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-2].startswith("Ready")


def test_no_display_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = subprocess.run([sys.executable, "-m", "app"], cwd=REPO, env=dict(env, IMAGE_CAPTIONER_CONFIG_DIR=str(tmp_path)),
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "needs a display" in result.stderr


def test_speech_off_stays_said_beside_ready(display, tmp_path):
    # The machine has espeak-ng; this hides pyttsx3 from the speech worker, as on a machine without it.
    result = _run_app(IMAGE_CAPTIONER_CONFIG_DIR=str(tmp_path), PYTHONPATH=str(REPO / "tests" / "app" / "no_tts"))
    status = result.stdout.strip().splitlines()[-2]
    # On a first launch the status also says how to turn on Speak mode (issue 25); the reason stays too.
    assert status.startswith("Ready · ") and " · Speech is off: no text-to-speech engine" in status, status


def test_bad_settings_are_ignored_field_by_field_with_one_notice(display, tmp_path):
    """Issue 24 N5: "geometry": "garbage" gave a traceback at every start."""
    (tmp_path / "settings.json").write_text('{"geometry": "garbage", "theme": "Dark", "beam_width": 99, '
                                            '"auto_speak": false, "speech_rate": "fast"}')
    result = _run_app(IMAGE_CAPTIONER_CONFIG_DIR=str(tmp_path))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    status = result.stdout.strip().splitlines()[-2]
    assert status.startswith("Ready") and status.count("reset to defaults") == 1, status
    assert "geometry" in status and "beam_width" in status and "speech_rate" in status and "theme" not in status
    from app.models import SettingsModel

    kept = SettingsModel(tmp_path / "settings.json").load()  # the app saved what it kept and what it reset
    assert kept.theme == "Dark" and kept.auto_speak is False and kept.beam_width == 5 and "x" in kept.geometry
