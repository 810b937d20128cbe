"""Issue 26 item 9: the app leaves the user's home folder alone (customtkinter made ~/.fonts, Keras ~/.keras) and
--self-test prints its checks only (TensorFlow's C++ start-up lines went to the terminal). Real processes with a
home folder of their own."""
import os
import subprocess
import sys

from tests.conftest import REPO


def _environment(home):
    return {**os.environ, "HOME": str(home), "IMAGE_CAPTIONER_CONFIG_DIR": str(home / "config"),
            "IMAGE_CAPTIONER_DATA_DIR": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache")}


def test_the_self_test_prints_its_checks_only_and_makes_no_fonts_or_keras_folder_in_home(tmp_path):
    checked = subprocess.run([sys.executable, "-m", "app", "--self-test"], cwd=REPO, env=_environment(tmp_path),
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr[-3000:]
    assert checked.stderr == "", checked.stderr[-3000:]
    lines = checked.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["caption", "speech", "metadata", "loss chart", "training"]
    assert lines[-1].startswith("self-test passed in ")
    assert not (tmp_path / ".fonts").exists() and not (tmp_path / ".keras").exists()
    assert (tmp_path / "data" / "keras").is_dir()  # Keras' own settings: in the app's data folder


def test_tk_finds_customtkinters_fonts_without_a_copy_in_home(tmp_path, display):
    script = ("from app.home_folders import import_customtkinter; import_customtkinter(); "
              "import tkinter, tkinter.font; root = tkinter.Tk(); root.withdraw(); "
              "print(sorted({f for f in tkinter.font.families() if f in ('Roboto', 'CustomTkinter_shapes_font')}))")
    shown = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=_environment(tmp_path),
                           capture_output=True, text=True, timeout=120)
    assert shown.stdout.strip() == "['CustomTkinter_shapes_font', 'Roboto']", shown.stderr[-2000:]
    assert not (tmp_path / ".fonts").exists()
