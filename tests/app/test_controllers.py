"""Controllers on their own, as the ABQ app tests them: the views and the window replaced by stand-ins that
record what they were told, and everything else real (the task runner and its threads, the models on disk,
the shipped model, real photos). No display is needed; speech is a stand-in because that is a separate
process the tests of app/controllers/speech.py cover. These run the branches the GUI tests cannot reach on
purpose: a model that fails to load, and a caption that comes back after another photo was opened."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from app.controllers.caption import CaptionController
from app.controllers.folder import FolderController
from app.controllers.tasks import TaskRunner
from app.models import CaptionHistory, ModelRegistry, SettingsModel
from app.models.folder_captions import FolderCaptions
from app.models.model_session import ModelSession
from app.paths import default_model_path
from ml.captioning.results import CaptionResult
from ml.honesty.hedging import as_clause
from tests.conftest import DOG_PHOTOS, ORIGINALS

SAMPLES = Path(__file__).resolve().parents[2] / "assets" / "samples"


class FakeDialogs:
    """Answers the questions a controller asks from a script of answers, and records them."""

    def __init__(self, answers: Optional[dict[str, Any]] = None):
        self.answers, self.asked = answers or {}, []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def ask(*args: Any) -> Any:
            self.asked.append(name)
            return self.answers.get(name)
        return ask


class FakeShell:
    """The window as a controller sees it (app/controllers/shell.py), recording errors and notices."""

    def __init__(self, dialogs: Optional[FakeDialogs] = None):
        self.dialogs, self.notices = dialogs or FakeDialogs(), []
        self.errors: list[str] = []
        self.notified: list[str] = []
        self.announced: list[str] = []  # what Speak mode would say
        self.clipboard = ""

    def show_error(self, message: str) -> None:
        self.errors.append(str(message))

    def notify(self, message: str) -> None:
        self.notified.append(message)

    def announce(self, message: str) -> None:
        self.announced.append(message)

    def clipboard_get(self) -> str:
        return self.clipboard

    def clipboard_clear(self) -> None:
        self.clipboard = ""

    def clipboard_append(self, string: str, /) -> None:
        self.clipboard += string


class FakeView:
    """A page that only records: every set_*/show_* call is kept by name; get_* read back what was set."""

    def __init__(self, **values: Any):
        self.calls: dict[str, list[tuple]] = {}
        self.values = {"beam_width": 1, "auto_speak": False, "caption": "", "confidence": "", "tags": "",
                       "model_name": "", **values}
        self.handlers: dict[str, Callable[[], None]] = {}
        self.chosen_history_index, self.dropped_path = None, None

    def on(self, event: str, handler: Callable[[], None]) -> None:
        self.handlers[event] = handler

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("get_"):
            return lambda: self.values.get(name[4:])

        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.setdefault(name, []).append(args)
            if name.startswith("set_") and name[4:] in self.values:  # read back by get_*, as a page does
                self.values[name[4:]] = args[0]
        return record

    def last(self, name: str) -> tuple:
        return self.calls[name][-1]


class FakeSpeech:
    rate = 165
    available = False

    def probe(self) -> tuple[bool, str]:
        return False, "no speech engine in this test"


def wait_for(runner: TaskRunner, condition: Callable[[], Any], seconds: float = 120) -> None:
    """Poll the runner's queue as the window's timer does, until the condition holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        runner.poll()
        time.sleep(0.01)


@pytest.fixture
def caption_page(tmp_path):
    """(controller, view, shell, runner, session) on the shipped model and a new user's folders."""
    runner, session, shell, view = TaskRunner(), ModelSession(), FakeShell(), FakeView()
    settings = SettingsModel(tmp_path / "settings.json")
    settings.load()
    registry = ModelRegistry(default_model_path(), tmp_path / "models")
    history = CaptionHistory(path=tmp_path / "history.json")
    controller = CaptionController(shell, view, runner, FakeSpeech(), settings, registry, history, session)  # type: ignore[arg-type]
    return controller, view, shell, runner, session


def test_a_model_that_cannot_load_gives_way_to_the_shipped_one(caption_page, tmp_path):
    controller, view, shell, runner, session = caption_page
    broken = tmp_path / "models" / "broken.captioner"
    broken.parent.mkdir()
    broken.write_bytes(b"not a zip")
    controller.registry.set_active(broken)
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    assert session.path == default_model_path()
    assert len(shell.errors) == 1 and shell.errors[0].startswith("Cannot load the model: ")
    assert "broken.captioner" in shell.errors[0] and shell.errors[0].endswith("Using the shipped model instead.")
    assert "Ready" in view.last("set_status")[0]


def test_a_caption_that_comes_back_for_another_photo_goes_to_history_only(caption_page):
    controller, view, shell, runner, session = caption_page
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    controller.open_photo(SAMPLES / "coffee.jpg")
    wait_for(runner, lambda: view.get_caption())
    shown, confidence_calls = view.get_caption(), len(view.calls["set_confidence"])
    late = CaptionResult(SAMPLES / "cat.jpg", "a cat from a photo no longer open")
    runner.post(controller._captioned, late)  # how a worker's result arrives after the user moved on
    wait_for(runner, lambda: controller.history.entries[0].caption == late.caption)
    assert view.get_caption() == shown and len(view.calls["set_confidence"]) == confidence_calls
    assert controller.photo_path == SAMPLES / "coffee.jpg" and not shell.errors


def test_a_caption_that_raises_clears_the_status_and_says_why(caption_page, monkeypatch):
    """Issue 24 N7: when captioning raised, the status stayed on "Captioning…" for good."""
    controller, view, shell, runner, session = caption_page
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)

    def broken(*args, **kwargs):
        raise ValueError("a model that fails mid-caption")

    monkeypatch.setattr(session.captioner, "caption", broken)
    controller.open_photo(SAMPLES / "coffee.jpg")
    wait_for(runner, lambda: shell.errors)
    assert shell.errors == ["a model that fails mid-caption"]
    assert view.last("set_status") == ("Speech is off: no speech engine in this test",)  # no "Captioning…" left


def test_copy_puts_the_plain_caption_on_the_clipboard(caption_page):
    controller, view, shell, runner, session = caption_page
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    controller.open_photo(SAMPLES / "cat.jpg")  # unsure: shown and spoken hedged
    wait_for(runner, lambda: view.get_caption())
    controller.copy_caption()
    shown = view.get_caption()  # the hedged sentence holds the caption, or its clause ("a cat sitting on a bench")
    clause = as_clause(shell.clipboard)
    assert shell.clipboard == controller.plain_caption and clause in shown.replace(shell.clipboard, clause)
    assert view.last("set_status") == ("Caption copied",)


def captioned_folder(caption_page, tmp_path: Path, photos: Path) -> tuple[FolderController, FakeView]:
    """The Folder page (stand-in view) after captioning `photos` with the Caption page's model, loaded first."""
    controller, _, shell, runner, session = caption_page
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    settings = SettingsModel(tmp_path / "settings.json")
    settings.load()
    folder_view = FakeView()
    folder = FolderController(shell, folder_view, runner, FolderCaptions(tmp_path / "folder-captions"),  # type: ignore[arg-type]
                              session, settings)
    folder.choose_folder(photos)
    wait_for(runner, lambda: folder.paths)
    folder.caption_all()
    wait_for(runner, lambda: folder.cancel_event is None and len(folder.captions.rows) == len(folder.paths))
    return folder, folder_view


def test_the_folder_page_captions_with_the_caption_pages_model(caption_page, tmp_path):
    shell = caption_page[2]
    folder, folder_view = captioned_folder(caption_page, tmp_path, SAMPLES)
    names = sorted(row[1] for row in folder_view.calls["add_row"])
    assert names == sorted(path.name for path in folder.paths) and not shell.errors
    assert folder_view.last("show_progress")[1] == f"{len(names)} of {len(names)} captioned"


def test_the_folder_page_says_so_while_no_model_is_loaded(tmp_path):
    shell, runner = FakeShell(), TaskRunner()
    settings = SettingsModel(tmp_path / "settings.json")
    settings.load()
    folder = FolderController(shell, FakeView(), runner, FolderCaptions(tmp_path / "captions"), ModelSession(),  # type: ignore[arg-type]
                              settings)
    folder.caption_all()
    assert shell.errors == ["The model is still loading; try again in a moment"]


def _photo_described(path: Path, description: str) -> Path:
    """A copy of a sample photo that has a description of its own (as a photo manager writes it)."""
    import pyexiv2

    path.write_bytes((SAMPLES / "coffee.jpg").read_bytes())
    with pyexiv2.Image(str(path)) as image:
        image.modify_xmp({"Xmp.dc.description": {'lang="x-default"': description}})
    return path


@pytest.mark.parametrize("answer", [False, True])
def test_save_into_photo_asks_before_replacing_a_photos_own_description(caption_page, tmp_path, answer):
    """Issue 24 N2 (and issue 25's major 2): "Grandma at the lake, 1998" was replaced without a word."""
    from ml.outputs.metadata import read_caption

    controller, view, shell, runner, session = caption_page
    shell.dialogs.answers.update(confirm=answer, choose=False)  # the caption as it is, if it is unsure
    photo = _photo_described(tmp_path / "grandma.jpg", "Grandma at the lake, 1998")
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    controller.open_photo(photo)
    wait_for(runner, lambda: view.get_caption())
    controller.save_into_photo()
    wait_for(runner, lambda: "confirm" in shell.dialogs.asked and runner.unfinished == 0)
    expected = controller.plain_caption if answer else "Grandma at the lake, 1998"
    wait_for(runner, lambda: read_caption(photo) == expected and runner.unfinished == 0)
    assert not shell.errors and ("saved" if answer else "Kept") in view.last("set_status")[0]


def test_save_into_photos_keeps_their_own_descriptions_unless_the_user_says_replace(caption_page, tmp_path):
    from ml.outputs.metadata import read_caption

    shell, runner = caption_page[2], caption_page[3]
    folder_path = tmp_path / "photos"
    folder_path.mkdir()
    plain = folder_path / "plain.jpg"
    plain.write_bytes((SAMPLES / "cat.jpg").read_bytes())
    described = _photo_described(folder_path / "grandma.jpg", "Grandma at the lake, 1998")
    folder, folder_view = captioned_folder(caption_page, tmp_path, folder_path)
    assert len(folder.captions.rows) == 2
    shell.dialogs.answers.update(confirm=False, choose=True)  # unsure captions written hedged
    folder.save_into_photos(ask=False)
    wait_for(runner, lambda: "confirm" in shell.dialogs.asked and runner.unfinished == 0)
    assert read_caption(described) == "Grandma at the lake, 1998" and read_caption(plain)
    assert "kept 1 photo's own description" in folder_view.last("set_folder")[0]
    shell.dialogs.answers["confirm"] = True
    folder.save_into_photos(ask=False)
    wait_for(runner, lambda: read_caption(described) != "Grandma at the lake, 1998" and runner.unfinished == 0)
    assert not shell.errors


def test_a_caption_from_a_model_without_attention_clears_the_last_captions_words(caption_page):
    """Issue 25 major 5: the word chips and heatmap of the last caption stayed under the caption of a model
    without attention (every GUI-trained model with the default decoder): show_attention returned early."""
    controller, view, shell, runner, session = caption_page
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    controller.open_photo(SAMPLES / "coffee.jpg")
    wait_for(runner, lambda: view.get_caption() and view.calls.get("set_attention", [((),)])[-1][0])
    plain = type("WithoutAttention", (), {"attends": False})()  # stands for such a model: no other use here
    session.captioner = plain
    controller.show_attention(CaptionResult(SAMPLES / "coffee.jpg", "a cup of coffee"))
    assert view.last("set_attention") == ([], [])


@pytest.mark.parametrize("answer, written", [(True, "hedged"), (False, "plain"), (None, "nothing")])
def test_an_unsure_caption_is_written_into_a_photo_only_as_the_user_chooses(caption_page, tmp_path, answer, written):
    """Issue 25 major 3: the cat photo got "a little boy is sitting on a bench" written into it as fact."""
    from ml.outputs.metadata import read_caption

    controller, view, shell, runner, session = caption_page
    shell.dialogs.answers["choose"] = answer
    photo = tmp_path / "cat.jpg"
    photo.write_bytes((SAMPLES / "cat.jpg").read_bytes())
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    controller.open_photo(photo)
    wait_for(runner, lambda: view.get_caption())
    result = controller.shown_result
    assert result is not None and result.unsure  # the sample cat is unlike the training photos
    controller.save_into_photo()
    wait_for(runner, lambda: runner.unfinished == 0)
    assert shell.dialogs.asked == ["choose"]
    expected = {"hedged": result.text, "plain": result.caption, "nothing": ""}[written]
    assert read_caption(photo) == expected and not shell.errors


@pytest.mark.parametrize("answer", [True, False, None])
def test_save_into_photos_counts_the_unsure_captions_and_hedges_or_skips_them(caption_page, tmp_path, answer):
    from ml.outputs.metadata import read_caption

    shell, runner = caption_page[2], caption_page[3]
    folder_path = tmp_path / "photos"
    folder_path.mkdir()
    for name in ("cat.jpg", "coffee.jpg"):
        (folder_path / name).write_bytes((SAMPLES / name).read_bytes())
    (folder_path / "dog.jpg").write_bytes((ORIGINALS / DOG_PHOTOS[0]).read_bytes())
    folder, folder_view = captioned_folder(caption_page, tmp_path, folder_path)
    unsure = [row for row in folder.captions.rows if row.unsure]
    sure = [row for row in folder.captions.rows if not row.unsure]
    assert unsure and sure, [(row.path.name, row.unsure) for row in folder.captions.rows]
    shell.dialogs.answers["choose"] = answer
    folder.save_into_photos(ask=False)
    wait_for(runner, lambda: runner.unfinished == 0)
    assert shell.dialogs.asked == ["choose"]
    if answer is None:
        assert all(read_caption(row.path) == "" for row in folder.captions.rows)
        return
    assert all(read_caption(row.path) == row.caption for row in sure)
    assert all(read_caption(row.path) == (row.text if answer else "") for row in unsure)
    if not answer:
        assert f"skipped {len(unsure)} unsure caption" in folder_view.last("set_folder")[0]


def test_a_finished_model_is_kept_at_once_and_use_renames_and_adopts_it(tmp_path):
    """Issue 25 major 6: a trained model that was not adopted was lost (not on the Models page, forgotten
    by the Train page after a restart, findable only inside its run folder). The run's result is stood in
    by a copy of the shipped model in the run folder: training itself is tested in tests/ml."""
    import shutil

    from app.controllers.train import TrainController

    registry = ModelRegistry(default_model_path(), tmp_path / "models")
    view, shell, added = FakeView(), FakeShell(), []
    controller = TrainController(shell, view, TaskRunner(), registry, added.append)  # type: ignore[arg-type]
    controller.run_dir = tmp_path / "runs" / "photos-lite0-1"
    controller.run_dir.mkdir(parents=True)
    shutil.copy(default_model_path(), controller.run_dir / "photos-lite0-1.captioner")
    comparison = {"photos": 5, "scores": {"new": {"bleu4": 20.0}, "in use": {"bleu4": 10.0}}, "samples": []}
    controller._finished((registry._entry(default_model_path()).card | {"history": [{}], "best_epoch": 1},
                          comparison))
    kept = [entry.name for entry in registry.entries() if not entry.shipped]
    assert kept == ["photos-lite0-1"] and registry.active_path() == default_model_path() and not added
    assert 'Kept on the Models page as "photos-lite0-1"' in view.last("set_results")[0]
    view.values["model_name"] = "my cats"
    controller.use_model()
    assert [entry.name for entry in registry.entries() if not entry.shipped] == ["my cats"]
    assert added and added[0].name == "my cats" and not shell.errors


@pytest.mark.parametrize("auto_speak", [False, True])
def test_a_failed_playback_is_said_once_plainly_and_offers_to_turn_auto_speak_off(caption_page, auto_speak):
    """Issue 25 (minor): every auto-spoken caption opened a dialog in raw aplay words."""
    controller, view, shell, runner, session = caption_page
    view.values["auto_speak"] = auto_speak
    shell.dialogs.answers["confirm"] = True
    aplay = "the speech could not be played (aplay: main:831: audio open error: No such file or directory)"
    for _ in range(3):
        controller._spoken((False, aplay))
    said = "Speech could not be played: no sound device was found. Save speech still works."
    if auto_speak:
        assert shell.dialogs.asked == ["confirm"] and not shell.errors
        assert view.last("set_auto_speak") == (False,) and controller.settings_model.settings.auto_speak is False
    else:
        assert shell.errors == [said] and not shell.dialogs.asked
    assert view.last("set_status") == (said,)


def test_a_save_into_photo_is_undone_byte_for_byte_and_a_sidecar_it_made_removed(caption_page, tmp_path):
    """Issue 25, photos protected: every write into a photo can be undone (Ctrl+Z in the app)."""
    from app.models.metadata_undo import MetadataUndo
    from ml.outputs.metadata import read_caption, sidecar_path

    controller, view, shell, runner, session = caption_page
    controller.undo = undo = MetadataUndo(tmp_path / "undo")
    shell.dialogs.answers.update(confirm=True, choose=False)
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    photo = _photo_described(tmp_path / "grandma.jpg", "Grandma at the lake, 1998")
    gif = tmp_path / "plain.gif"  # a format that holds no description: a .xmp sidecar is made
    from PIL import Image

    Image.open(SAMPLES / "coffee.jpg").convert("P").save(gif)
    for each in (photo, gif):
        before = each.read_bytes()
        controller.open_photo(each)
        wait_for(runner, lambda each=each: view.get_caption() and controller.shown_result is not None
                 and controller.shown_result.path == each)
        controller.save_into_photo()
        wait_for(runner, lambda each=each: runner.unfinished == 0 and read_caption(each) == controller.plain_caption)
        assert undo.available() and undo.restore() == 1 and not undo.available()
        assert each.read_bytes() == before and not shell.errors
    assert read_caption(photo) == "Grandma at the lake, 1998" and not sidecar_path(gif).exists()


def test_why_speech_is_off_stays_in_the_status_line_after_a_photo_is_captioned(caption_page):
    """Issue 26, item 5: opening a photo cleared the status line, so Speak, Save speech and Auto-speak were
    grey with no reason given."""
    controller, view, shell, runner, session = caption_page
    controller.start()
    wait_for(runner, lambda: session.captioner is not None and controller.speech_off_reason)
    controller.open_photo(SAMPLES / "coffee.jpg")
    wait_for(runner, lambda: view.get_caption() and runner.unfinished == 0)
    assert view.last("set_status") == ("Speech is off: no speech engine in this test",)


def test_a_new_beam_width_captions_the_open_photo_again(caption_page):
    """Issue 25 (minor): changing the beam width (or model) left the old caption standing."""
    controller, view, shell, runner, session = caption_page
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    controller.settings_changed()  # the page's beam (1) kept as the setting, before any photo
    controller.open_photo(SAMPLES / "coffee.jpg")
    wait_for(runner, lambda: view.get_caption() and runner.unfinished == 0)
    captions_shown = len(view.calls["set_caption"])
    view.values["beam_width"] = 3
    controller.settings_changed()
    wait_for(runner, lambda: len(view.calls["set_caption"]) > captions_shown and runner.unfinished == 0)
    assert controller.settings_model.settings.beam_width == 3 and view.get_caption()


def test_a_history_entry_reopens_hedged_with_its_confidence_and_tags_after_a_restart(caption_page, tmp_path):
    """Issue 25 (minor): an entry reopened as a bare caption, an unsure one stated as fact."""
    controller, view, shell, runner, session = caption_page
    controller.start()
    wait_for(runner, lambda: session.captioner is not None)
    controller.open_photo(SAMPLES / "cat.jpg")  # unsure
    wait_for(runner, lambda: view.get_caption() and runner.unfinished == 0)
    shown = (view.get_caption(), view.get_confidence(), view.get_tags())
    assert shown[0].startswith("I'm not sure") and shown[1].startswith("Confidence") and shown[2]
    restarted = CaptionHistory(path=controller.history.path)
    restarted.load()
    controller.history = restarted
    controller.open_photo(SAMPLES / "coffee.jpg")
    wait_for(runner, lambda: "coffee" in str(controller.photo_path) and runner.unfinished == 0)
    view.chosen_history_index = [entry.path.name for entry in restarted.entries].index("cat.jpg")
    controller.history_chosen()
    wait_for(runner, lambda: controller.photo_path == SAMPLES / "cat.jpg" and runner.unfinished == 0)
    assert (view.get_caption(), view.get_confidence(), view.get_tags()) == shown
    assert controller.shown_result is not None and controller.shown_result.unsure
