"""App models and controllers' pure parts, without a display."""
import csv
import json
import threading
import time
import wave

import numpy as np
import pytest

from app.constants import ExportFormat
from app.controllers.speech import SpeechService
from app.controllers.tasks import TaskRunner
from app.controllers.train import parse_train_settings
from app.event_loop import run_until
from app.models import CaptionHistory, ModelRegistry, RegistryError, SettingsModel
from app.models.folder_captions import FolderCaptions
from ml.captioning.results import CaptionResult
from ml.core.progress import Cancelled, Phase, Progress
from ml.model_file import BundleError


def test_settings_round_trip_and_damaged_file(tmp_path):
    model = SettingsModel(tmp_path / "settings.json")
    model.load()
    model.update(theme="Dark", beam_width=3, geometry="900x700+10+10")
    assert SettingsModel(tmp_path / "settings.json").load().beam_width == 3
    (tmp_path / "settings.json").write_text("{broken")
    assert SettingsModel(tmp_path / "settings.json").load().theme == "System"
    (tmp_path / "settings.json").write_text(json.dumps({"beam_width": "lots", "theme": "Light"}))
    loaded = SettingsModel(tmp_path / "settings.json").load()
    assert loaded.beam_width == 5 and loaded.theme == "Light"  # wrong types fall back to defaults


def test_history_keeps_newest_first_within_limit():
    history = CaptionHistory(limit=2)
    for name in ["a.jpg", "b.jpg", "c.jpg"]:
        history.add(name, f"caption {name}", "m")
    assert [e.path.name for e in history.entries] == ["c.jpg", "b.jpg"]


def test_registry_import_default_delete(tiny_model, tmp_path):
    shipped = tmp_path / "assets" / "default.captioner"
    shipped.parent.mkdir()
    shipped.write_bytes(tiny_model[0].read_bytes())
    registry = ModelRegistry(shipped, tmp_path / "models")
    assert [e.name for e in registry.entries()] == ["shipped"]
    entry = registry.add(tiny_model[0], name="mine")
    with pytest.raises(RegistryError, match="already exists"):
        registry.add(tiny_model[0], name="mine")
    registry.set_active(entry.path)
    assert registry.active_path() == entry.path
    with pytest.raises(RegistryError, match="cannot be deleted"):
        registry.delete(registry.entries()[0])
    registry.delete(entry)
    assert registry.active_path() == shipped and len(registry.entries()) == 1
    (tmp_path / "fake.captioner").write_text("nope")
    with pytest.raises(BundleError, match="fake.captioner"):
        registry.add(tmp_path / "fake.captioner")


def test_folder_captions_export_all_formats(tmp_path):
    captions = FolderCaptions()
    captions.reset(tmp_path)
    captions.add(CaptionResult(tmp_path / "a.jpg", "a dog, running", tags=[("Whippet", 0.5)], confidence=0.61))
    captions.add(CaptionResult(tmp_path / "b.png", error="b.png: damaged image"))
    captions.add(CaptionResult(tmp_path / "c.jpg", "a cat"))
    captions.edit(2, "a sleeping cat")
    assert captions.export_sidecars().written == [tmp_path / "a.txt", tmp_path / "c.txt"]
    assert (tmp_path / "c.txt").read_text() == "a sleeping cat\n"
    captions.export_csv(tmp_path / "out.csv")
    assert list(csv.reader((tmp_path / "out.csv").open())) == [
        ["image", "caption", "confidence", "unsure", "tags"], ["a.jpg", "a dog, running", "0.61", "no", "Whippet 0.50"],
        ["c.jpg", "a sleeping cat", "", "no", ""]]
    captions.export_json(tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text())[1] == {
        "image": "c.jpg", "caption": "a sleeping cat", "confidence": None, "unsure": False, "reasons": [], "tags": [],
        "edited": True}
    assert not list(tmp_path.glob(".*.tmp"))
    assert ExportFormat("CSV") == ExportFormat.CSV


def test_train_form_is_checked():
    form = {"encoder": "efficientnet-lite0", "decoder": "merge", "epochs": "3", "batch_size": "32",
            "learning_rate": "0.001", "max_train_photos": ""}
    assert parse_train_settings(form)["max_train_photos"] is None
    with pytest.raises(ValueError, match="Epochs must be a whole number, not 'many'"):
        parse_train_settings(dict(form, epochs="many"))
    with pytest.raises(ValueError, match="batch size must be a number from 1 to 65536, not 0"):
        parse_train_settings(dict(form, batch_size="0"))
    with pytest.raises(ValueError, match="learning rate must be a number above 0 to 1, not -1"):
        parse_train_settings(dict(form, learning_rate="-1"))
    with pytest.raises(ValueError, match="Training photos must be at least 10"):
        parse_train_settings(dict(form, max_train_photos="3"))


def test_task_runner_reports_done_error_progress_and_cancel():
    runner, seen = TaskRunner(), []
    runner.submit("a", lambda report, cancel: (report(Progress(Phase.CAPTION, 1, 2)), 42)[1],
                  on_done=seen.append, on_progress=lambda p: seen.append(p.done))
    runner.submit("a", lambda report, cancel: 1 / 0, on_error=lambda e: seen.append(type(e).__name__))
    started = threading.Event()

    def slow(report, cancel):
        started.set()
        while not cancel.is_set():
            time.sleep(0.01)
        raise Cancelled()

    cancel = runner.submit("b", slow, on_cancelled=lambda _: seen.append("cancelled"))
    started.wait(5)
    cancel.set()
    run_until(runner.poll, lambda: runner.unfinished == 0, 10, "the jobs to finish", 0.01)
    assert seen[:3] == [1, 42, "ZeroDivisionError"] and "cancelled" in seen and runner.unfinished == 0


def _speech_seconds_and_rms(path):
    with wave.open(str(path)) as audio:
        frames = np.frombuffer(audio.readframes(audio.getnframes()), np.int16)
        return audio.getnframes() / audio.getframerate(), float(np.sqrt(np.mean(frames.astype(float) ** 2)))


def test_speech_tenth_utterance_works_like_the_first(tmp_path):
    speech = SpeechService()
    available, reason = speech.probe()
    assert available, reason
    done = []
    for index in range(10):
        speech.save(f"a dog runs through the grass number {index}", tmp_path / f"{index}.wav",
                    lambda ok, error: done.append((ok, error)))
    deadline = time.monotonic() + 60
    while len(done) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done == [(True, "")] * 10
    first, tenth = _speech_seconds_and_rms(tmp_path / "0.wav"), _speech_seconds_and_rms(tmp_path / "9.wav")
    for seconds, rms in (first, tenth):
        assert 1.0 < seconds < 8.0 and rms > 300  # real speech: a few seconds, not silence
    assert abs(first[0] - tenth[0]) < 0.5


def test_speech_stop_drops_waiting_utterances(tmp_path):
    speech = SpeechService()
    done = []
    long_text = "a man in a red shirt climbs a rock while his friend watches from below " * 40
    for index in range(5):
        speech.save(long_text, tmp_path / f"{index}.wav", lambda ok, error: done.append(ok))
    deadline = time.monotonic() + 20
    while speech._process is None and time.monotonic() < deadline:  # the first file's speech is under way
        time.sleep(0.01)
    speech.stop()
    # Requests run in order: once this one is done, every earlier one has run or been dropped (no fixed sleep).
    speech.save("still speaking", tmp_path / "after.wav", lambda ok, error: done.append(("after", ok)))
    deadline = time.monotonic() + 20
    while ("after", True) not in done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ("after", True) in done
    assert len(done) - 1 <= 2  # the one running (killed or finished) and none of the waiting ones
    assert not (tmp_path / "4.wav").exists()


def test_missing_speech_engine_is_reported(monkeypatch):
    # A machine without espeak-ng cannot be had here; hide pyttsx3 from the worker to get there.
    monkeypatch.setenv("PYTHONPATH", str(__import__("pathlib").Path(__file__).parent / "no_tts"))
    speech = SpeechService()
    available, reason = speech.probe()
    assert available is False and "no text-to-speech engine" in reason


def speech_worker(tmp_path, *args, **environment):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = dict(os.environ, PATH=str(tmp_path), **environment)  # no aplay there; the worker is started by full path
    return subprocess.run([sys.executable, "-m", "app.speech_worker", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_speech_plays_without_an_audio_program(tmp_path):
    """Issue 26, items 3 and 4: speech needed aplay from the system (without it, first an unhandled
    FileNotFoundError, then one line asking to install alsa-utils). Now miniaudio plays it: with no program on
    PATH, the worker plays the whole sentence into miniaudio's null device (this machine has no sound card: the
    null device takes the audio at a sound card's pace, so the run lasts as long as the speech)."""
    began = time.monotonic()
    result = speech_worker(tmp_path, "--text", "a dog runs across the grass", IMAGE_CAPTIONER_NULL_AUDIO="1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.monotonic() - began >= 1.0  # about 1.7 s of speech was played, not skipped


def test_captions_are_spoken_in_an_english_voice():
    """The voice chosen was "Chinese (Mandarin, latin as English)" (its name holds "English" and it is listed
    before the English ones): English captions were read by a Mandarin voice."""
    import pyttsx3

    from app.speech_worker import _english_voice

    engine = pyttsx3.init()
    chosen = [voice for voice in engine.getProperty("voices") if voice.id == _english_voice(engine)]
    assert chosen and chosen[0].name.startswith("English")


def test_saving_speech_prints_nothing(tmp_path):
    """Issue 26, item 9: pyttsx3 printed "Audio saved to /tmp/…" for every piece (into --self-test's report)."""
    result = speech_worker(tmp_path, "--text", "a dog runs", "--wav", str(tmp_path / "said.wav"))
    assert result.returncode == 0 and result.stdout == "" and (tmp_path / "said.wav").stat().st_size > 1000


def test_no_sound_device_is_one_plain_line(tmp_path):
    """Without a sound device (this machine has none) the worker ends with one line the app shows as it is."""
    result = speech_worker(tmp_path, "--text", "a dog")
    assert result.returncode == 4, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == "the speech could not be played (no sound device was found)"


def test_interrupting_speech_keeps_the_files_being_saved(tmp_path):
    """Speak mode cuts off what is being said at each announcement; a Save speech waiting behind it stays."""
    speech = SpeechService()
    done = []
    speech.speak("a long sentence that is about to be cut off " * 20, lambda ok, error: done.append(("said", ok, error)))
    speech.save("kept", tmp_path / "kept.wav", lambda ok, error: done.append(("saved", ok)))
    speech.speak("dropped", lambda ok, error: done.append(("dropped", ok)))
    speech.interrupt()
    deadline = time.monotonic() + 60
    while ("saved", True) not in done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ("saved", True) in done and (tmp_path / "kept.wav").stat().st_size > 1000
    assert not [entry for entry in done if entry[0] == "dropped"]
