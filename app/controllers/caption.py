"""Caption page: open a photo, caption it, speak it; owns the loaded model (the Captioner)."""
from __future__ import annotations

import logging
import time
import tkinter as tk
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PIL import Image

from ml.captioning.results import CaptionResult
from ml.core.atomic import replace_atomically
from ml.core.defaults import user_data_dir
from ml.core.types import PathLike
from ml.data.images import IMAGE_SUFFIXES
from ml.model_file.card import scores_text

from ..constants import PREVIEW_SOURCE_SIZE, percent_text
from ..models.history import facts_of
from .shell import Shell

if TYPE_CHECKING:
    from ml.captioning.captioner import Captioner

    from ..models import CaptionHistory, ModelRegistry, SettingsModel
    from ..models.metadata_undo import MetadataUndo
    from ..models.model_session import ModelSession
    from ..views.caption_view import CaptionView
    from .speech import SpeechService
    from .tasks import TaskRunner

log = logging.getLogger(__name__)


def card_summary(card: dict, beam_width: int) -> str:
    """The model card's key facts in a few lines, with its test scores at the beam width in use."""
    lines = [f"{card.get('name', '?')} · encoder {card.get('encoder')}",
             f"created {str(card.get('created', '?'))[:10]}"]
    return "\n".join(lines + [scores_text(card, beam_width)])


def confidence_text(result: CaptionResult) -> str:
    """'Confidence 72 %', or 'Confidence 8 % · not sure: the photo is unlike ...'; empty for a model that
    has no calibration."""
    if result.confidence is None and not result.reasons:
        return ""
    parts = [] if result.confidence is None else [f"Confidence {percent_text(result.confidence)}"]
    if result.unsure:
        parts.append("not sure: " + "; ".join(result.reasons))
    return " · ".join(parts)


def tags_text(tags: list[tuple[str, float]]) -> str:
    """What the encoder recognises, as the line under the caption: "The encoder sees: espresso 86 %, …"."""
    if not tags:
        return ""
    return "The encoder sees: " + ", ".join(f"{label} {percent_text(probability)}" for label, probability in tags)


def plain_speech_error(error: str) -> str:
    """A speech failure in words a user knows ("aplay: main:831: audio open error: …" means no sound card)."""
    if "audio open error" in error or "cannot find card" in error.lower() or "no such device" in error.lower():
        return "no sound device was found"
    return error.removeprefix("the speech could not be played").strip(" ()") or "the speech engine failed"


class CaptionController:
    def __init__(self, shell: Shell, view: CaptionView, runner: TaskRunner, speech: SpeechService,
                 settings_model: SettingsModel, registry: ModelRegistry, history: CaptionHistory,
                 session: ModelSession, undo: Optional[MetadataUndo] = None):
        self.shell, self.view, self.runner, self.speech = shell, view, runner, speech
        self.undo = undo  # the files of the last Save into photo, as they were (Ctrl+Z)
        self.settings_model, self.registry, self.history, self.session = settings_model, registry, history, session
        self.photo_path: Optional[Path] = None
        self.photo_image: Optional[Image.Image] = None  # the open photo, scaled for the preview
        self.plain_caption = ""  # the caption without hedging: what Copy copies
        self.shown_result: Optional[CaptionResult] = None  # the open photo's caption, with whether it is unsure
        self.speech_available = False
        self.speech_checked = False  # the speech probe's answer has reached this page
        self.speaking = False
        self.speech_failure_said = False  # a failed playback is said in a dialog once, then in the status
        self.speech_off_reason = ""  # why Speak, Save speech and Auto-speak are off, while they are
        self.entries: dict = {}  # model name -> usable registry entry, filled by refresh_models
        self.notices: list[str] = list(shell.notices)  # what stays said beside "Ready" (speech off, settings not kept)
        for event, handler in {"<<OpenPhoto>>": self.ask_photo, "<<CaptionRequested>>": self.caption,
                               "<<SpeakRequested>>": self.speak, "<<StopSpeech>>": self.stop_speech,
                               "<<CopyCaption>>": self.copy_caption, "<<SaveSpeech>>": self.ask_save_speech,
                               "<<SaveIntoPhoto>>": self.save_into_photo,
                               "<<EditCaption>>": self.edit_caption, "<<CaptionEditDone>>": self.caption_edited,
                               "<<ModelChosen>>": self.model_chosen, "<<SettingsChanged>>": self.settings_changed,
                               "<<HistoryChosen>>": self.history_chosen, "<<ClearHistory>>": self.clear_history,
                               "<<PhotoDropped>>": self.photo_dropped}.items():
            view.on(event, handler)
        settings = settings_model.settings
        view.set_beam_width(settings.beam_width)
        view.set_auto_speak(settings.auto_speak)
        self.update_speech_controls()
        view.set_history(history.entries)

    # ============ model ============
    @property
    def captioner(self) -> Optional[Captioner]:
        """The loaded model (shared with the Folder page through the session), None while loading."""
        return self.session.captioner

    @property
    def captioner_path(self) -> Optional[Path]:
        return self.session.path

    def start(self) -> None:
        """Load the model in the background (LiteRT and numpy: no TensorFlow); check for a speech engine."""
        self.refresh_models()
        self.load_model(self.current_model_path())
        self.runner.submit("speech-probe", lambda report, cancel: self.speech.probe(), on_done=self._speech_probed)

    def current_model_path(self) -> Path:
        """The active model: one choice shared by this page, the Models page, restarts and the CLI."""
        return self.registry.active_path()

    def refresh_models(self) -> None:
        """Fill the model menu from the usable model files, read on a worker."""
        self.runner.submit("files", lambda report, cancel: self.registry.usable_entries(),
                           on_done=self._models_listed, on_error=lambda error: self.shell.show_error(str(error)))

    def _models_listed(self, entries: list) -> None:
        self.entries = {e.name: e for e in entries}
        current = self.current_model_path()
        current_name = next((n for n, e in self.entries.items() if e.path == current), None)
        self.view.set_models(list(self.entries), current_name)

    def follow_active_model(self) -> None:
        """Load the active model if another one is loaded; say so when the loaded one was deleted."""
        self.refresh_models()
        active = self.registry.active_path()
        if self.captioner_path is not None and active != self.captioner_path:
            if not Path(self.captioner_path).exists():
                now = "the shipped model" if active == self.registry.shipped_model else active.stem
                self.shell.notify(f"The model in use ({Path(self.captioner_path).stem}) was deleted; now using {now}")
            self.load_model(active)

    def load_model(self, path: PathLike) -> None:
        path = Path(path)
        self.view.set_status("Loading the model…")
        self.view.set_photo_loaded(False)

        def work(report, cancel):
            from ml.captioning.captioner import Captioner

            captioner = Captioner.load(path)
            captioner.warm_up()
            return captioner

        self.runner.submit("caption", work, on_done=self._model_loaded,
                           on_error=lambda error: self._model_failed(path, error))

    def _model_loaded(self, captioner):
        self.session.hold(captioner)
        log.info("ready to caption: %s", captioner.bundle.path)
        self.view.set_model_info(card_summary(captioner.card, self.view.get_beam_width()))
        self.view.set_status(self.ready_status())
        self.view.set_photo_loaded(self.photo_path is not None)
        if self.photo_path is not None:
            self.caption()  # a photo given while the model loaded, or described by the model before, anew

    def _model_failed(self, path, error):
        """Say why in one line; a user's model that fails gives way to the shipped one."""
        shipped = self.registry.shipped_model
        if path != shipped and shipped.is_file():
            self.shell.show_error(f"Cannot load the model: {error}. Using the shipped model instead.")
            self.load_model(shipped)
            return
        self.view.set_status("No model loaded")
        self.shell.show_error(f"Cannot load the model: {error}")

    def model_chosen(self) -> None:
        entry = self.entries.get(self.view.get_model_name())
        if entry and entry.path != self.captioner_path:
            self.registry.set_active(entry.path)
            self.load_model(entry.path)

    def settings_changed(self) -> None:
        """Keep the settings; a new beam width captions the open photo again (it stayed as before)."""
        new_beam = self.view.get_beam_width() != self.settings_model.settings.beam_width
        self.settings_model.update(beam_width=self.view.get_beam_width(), auto_speak=self.view.get_auto_speak())
        if self.captioner is not None:
            self.view.set_model_info(card_summary(self.captioner.card, self.view.get_beam_width()))
            if new_beam and self.photo_path is not None and self.view.get_caption():
                self.caption()

    # ============ photo and caption ============
    def ask_photo(self) -> None:
        path = self.shell.dialogs.open_photo(self.settings_model.settings.last_open_dir)
        if path:
            self.open_photo(path)

    def open_photo(self, path: PathLike, caption: str = "", result: Optional[CaptionResult] = None) -> None:
        """Show a photo (read and scaled on a worker) ready to caption, or with a caption it already has (and
        how sure it was: `result`, from the history)."""
        path = Path(path)
        self.settings_model.update(last_open_dir=str(path.parent))

        def work(report, cancel):
            from ml.data.images import open_rgb

            image = open_rgb(path)
            image.thumbnail(PREVIEW_SOURCE_SIZE, Image.Resampling.LANCZOS)
            return image

        self.runner.submit("files", work, on_done=lambda image: self._photo_opened(path, image, caption, result),
                           on_error=lambda error: self.shell.show_error(str(error)))

    def _photo_opened(self, path, image, caption, result=None):
        """Show the photo and describe it at once (by any route: Open, drop, paste, command line), or show
        the caption it had, hedged as it was (from the history)."""
        self.photo_path, self.photo_image, self.plain_caption = path, image, caption
        self.shown_result = CaptionResult(path, caption) if caption else None  # from history: the caption only
        self.view.show_photo(image, path.name)
        self.view.set_caption(caption)
        self.view.set_confidence("")
        self.view.set_tags("")
        self.view.set_status(self.lasting_status() if self.captioner else "Loading the model…")  # none outlives its photo
        self.view.set_photo_loaded(self.captioner is not None)
        self.update_speech_controls()
        if result is not None:
            self._show_result(result)
        elif not caption:
            self.caption()

    def caption(self) -> None:
        if self.photo_path is None or self.captioner is None:
            return
        path, beam, captioner = self.photo_path, self.view.get_beam_width(), self.captioner
        self.view.set_status("Captioning…")
        self.runner.submit("caption", lambda report, cancel: captioner.caption([path], beam_width=beam)[0],
                           on_done=self._captioned, on_error=self._caption_failed)

    def _caption_failed(self, error: Exception) -> None:
        """No status may outlive its work: "Captioning…" goes with the error that ended it."""
        self.view.set_status(self.lasting_status())
        self.shell.show_error(str(error))

    def _captioned(self, result):
        model_name = self.captioner.card.get("name", "") if self.captioner else ""
        if result.path != self.photo_path:  # another photo was opened meanwhile: keep it, show nothing
            if not result.error:
                self.history.add(result.path, result.caption, model_name)
                self.view.set_history(self.history.entries)
            return
        if result.error:
            self.view.set_status(self.lasting_status())
            self.shell.show_error(result.error)
            return
        self._show_result(result)
        log.info("caption shown: %s: %s", result.path.name, result.caption)  # the packaged-app test reads this
        self.history.add(result.path, result.caption, model_name, facts_of(result))
        self.view.set_history(self.history.entries)
        if self.view.get_auto_speak() and self.speech_available:
            self.speak()
        else:
            self.shell.announce(f"Caption: {result.text}")

    def _show_result(self, result: CaptionResult) -> None:
        """The caption as it is said (hedged when unsure), how sure and why, what the encoder sees, the words."""
        self.plain_caption, self.shown_result = result.caption, result
        self.view.set_caption(result.text)
        self.view.set_confidence(confidence_text(result))
        self.view.set_tags(tags_text(result.tags))
        self.show_attention(result)
        self.view.set_status(self.lasting_status())
        self.update_speech_controls()

    def show_attention(self, result: CaptionResult) -> None:
        """Heatmaps of where the model looked for each word, made on a worker after the caption is shown."""
        captioner, image = self.captioner, self.photo_image
        if captioner is None or not captioner.attends or image is None:
            self.view.set_attention([], [])  # no words of an earlier caption left under this one
            return

        def work(report, cancel):
            from ml.honesty.attention import heatmap

            maps = captioner.attention_maps(result.path, result.caption)
            return [heatmap(image, weights) for weights in maps] if maps is not None else []

        def done(heatmaps):
            if result.path == self.photo_path and result.caption == self.plain_caption:
                self.view.set_attention(result.caption.split(), heatmaps)

        self.runner.submit("caption", work, on_done=done, on_error=lambda e: log.warning("attention: %s", e))

    def clear_history(self) -> None:
        """After asking: the list of captions is gone for good (it was cleared without a word)."""
        if not self.history.entries or not self.shell.dialogs.confirm(
                "Clear history?", f"Remove all {len(self.history.entries)} captions from the history? "
                "The photos themselves are not touched."):
            return
        self.history.clear()
        self.view.set_history([])

    def paste(self) -> None:
        """Ctrl+V: a copied photo file (its path, or a file:// address) or a copied image is described at once."""
        photo = self._pasted_photo_file() or self._pasted_image()
        if photo is None:
            self.shell.show_error("Nothing to describe on the clipboard: copy a photo or a photo file first")
            return
        self.open_photo(photo)

    def _pasted_photo_file(self) -> Optional[Path]:
        try:
            text = self.shell.clipboard_get()
        except tk.TclError:  # the clipboard is empty or holds no text
            return None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("file://"):
                line = urllib.parse.unquote(urllib.parse.urlparse(line).path)
            if line and Path(line).suffix.lower() in IMAGE_SUFFIXES and Path(line).is_file():
                return Path(line)
        return None

    def _pasted_image(self) -> Optional[Path]:
        """A copied image (not a file) kept as a PNG in the user data folder, so it can be opened and found
        again in the history. Pillow reads the clipboard on Windows and macOS, and on Linux with xclip."""
        try:
            from PIL import ImageGrab

            image = ImageGrab.grabclipboard()
        except (OSError, NotImplementedError, ImportError):
            return None
        if not isinstance(image, Image.Image):
            return None
        target = user_data_dir() / "pasted" / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}.png"
        replace_atomically(target, lambda temp: image.save(temp, "PNG"), ".png")
        return target

    def history_chosen(self) -> None:
        if self.view.chosen_history_index is not None:
            entry = self.history.entries[self.view.chosen_history_index]
            self.open_photo(entry.path, entry.caption, entry.result())

    def photo_dropped(self) -> None:
        if self.view.dropped_path:
            self.open_photo(self.view.dropped_path)

    # ============ speech ============
    def _speech_probed(self, outcome):
        available, reason = outcome
        self.speech_available = bool(available)
        self.speech_checked = True
        self.update_speech_controls()
        if not self.speech_available:
            self.speech_off_reason = f"Speech is off: {reason or 'no text-to-speech engine found'}"
            self.notices.append(self.speech_off_reason)
            self.view.set_status(self.ready_status() if self.captioner else self.notices[-1])

    def lasting_status(self) -> str:
        """What stays in the status line between photos: why speech is off, where it is (the grey Speak
        buttons had no reason once a photo was opened, issue 26 item 5)."""
        return self.speech_off_reason

    def ready_status(self) -> str:
        """'Ready', with what the user must still know (a missing speech engine, settings not kept)."""
        return " · ".join(["Ready", *self.notices])

    def update_speech_controls(self) -> None:
        self.view.set_speech_controls(self.speech_available, bool(self.view.get_caption()), self.speaking)

    def speak(self) -> None:
        """Speak the caption; the page shows 'Speaking…' until it ends, and a failure says why in one line."""
        text = self.view.get_caption()
        if text and self.speech_available:
            self.speech.rate = self.settings_model.settings.speech_rate
            self.speaking = True
            self.update_speech_controls()
            self.speech.speak(text, lambda ok, error: self.runner.post(self._spoken, (ok, error)))

    def edit_caption(self) -> None:
        """The caption as an editable line, so Copy, Speak, Save speech and Save into photo use the user's
        own words."""
        if self.shown_result is not None:
            self.view.start_editing(self.plain_caption)

    def caption_edited(self) -> None:
        """The user's words become the caption: said as they are (no hedge: the user vouches for them)."""
        text = " ".join(self.view.get_edited_caption().split())
        self.view.stop_editing()
        if not text or self.photo_path is None or text == self.plain_caption:
            return
        self.plain_caption, self.shown_result = text, CaptionResult(self.photo_path, text)
        self.view.set_caption(text)
        self.view.set_confidence("Edited by you")
        self.view.set_attention([], [])  # the words the model looked for are not these
        self.history.add(self.photo_path, text, "edited")
        self.view.set_history(self.history.entries)
        self.shell.announce(f"Caption: {text}")

    def page_reading(self) -> str:
        """The Caption page as one text to hear: the photo, its caption, how sure, what the encoder sees,
        the model."""
        if self.photo_path is None:
            return f"Caption page. No photo open; Control O opens one. Model {self.view.get_model_name()}."
        parts = [f"Photo {self.photo_path.name}.", self.view.get_caption() or "Not captioned yet.",
                 self.view.get_confidence(), self.view.get_tags(), f"Model {self.view.get_model_name()}."]
        return " ".join(part if part.endswith(".") else part + "." for part in parts if part)

    def _spoken(self, outcome) -> None:
        ok, error = outcome
        self.speaking = False
        self.update_speech_controls()
        if ok or error == "stopped":
            return
        said = f"Speech could not be played: {plain_speech_error(error)}. Save speech still works."
        if self.speech_failure_said:  # said once; after that the status line, not a dialog per caption
            self.view.set_status(said)
            return
        self.speech_failure_said = True
        if not self.view.get_auto_speak():
            self.shell.show_error(said)
        elif self.shell.dialogs.confirm("Speech could not be played", said + "\n\nTurn Auto-speak off?"):
            self.view.set_auto_speak(False)
            self.settings_changed()

    def stop_speech(self) -> None:
        self.speech.stop()

    def copy_caption(self) -> None:
        """Copy the plain caption (not the hedged sentence: a user pasting it wants the description)."""
        text = self.plain_caption or self.view.get_caption()
        if text:
            self.shell.clipboard_clear()
            self.shell.clipboard_append(text)
            self.view.set_status("Caption copied")

    def save_into_photo(self, replace: bool = False, text: Optional[str] = None) -> None:
        """Write the caption into the open photo's metadata (its description), on a worker; only when the
        user presses the button. An unsure caption is never written as fact: the user chooses the hedged
        text or the caption as it is. A description the photo already has is replaced only when the user
        says so, asked with the description shown."""
        path, result = self.photo_path, self.shown_result
        if path is None or result is None or result.path != path:
            return
        if text is None:
            text = self._text_for_photo(result)
            if text is None:
                self.view.set_status("Not saved into the photo")
                return

        def work(report, cancel):
            from ml.outputs.metadata import write_caption

            if self.undo is not None and not replace:  # the replace pass follows one that changed nothing
                self.undo.keep_before([path])
            return write_caption(path, text, replace)

        def done(written):
            where = written.name if written == path else f"{written.name} beside it (its format holds no description)"
            self.view.set_status(f"Caption saved into {where}" + (" · Ctrl+Z puts it back" if self.undo else ""))

        self.runner.submit("files", work, on_done=done,
                           on_error=lambda error: self._not_saved_into_photo(error, text))

    def _text_for_photo(self, result: CaptionResult) -> Optional[str]:
        """The plain caption when sure; when unsure, what the user chooses (None: write nothing)."""
        if not result.unsure:
            return result.caption
        hedge = self.shell.dialogs.choose(
            "The caption is unsure",
            f"The model is not sure of this caption:\n\n\"{result.caption}\"\n\nYes writes it into the photo as "
            f"the app says it (\"{result.text[:60]}…\"); No writes the caption as it is; Cancel writes nothing.")
        if hedge is None:
            return None
        return result.text if hedge else result.caption

    def _not_saved_into_photo(self, error: Exception, text: str) -> None:
        from ml.outputs.metadata import DescriptionKept

        if not isinstance(error, DescriptionKept):
            self.shell.show_error(str(error))
        elif self.shell.dialogs.confirm("Replace the photo's description?",
                                        f"{error.photo.name} already has a description:\n\n\"{error.existing}\"\n\n"
                                        "Replace it with the caption? (No keeps it.)"):
            self.save_into_photo(replace=True, text=text)
        else:
            self.view.set_status(f"Kept the description {error.photo.name} already has")

    def ask_save_speech(self) -> None:
        text = self.view.get_caption()
        if not text:
            return
        path = self.shell.dialogs.save_speech(self.photo_path)
        if path:
            self.save_speech(path)

    def save_speech(self, path: PathLike, on_finished: Optional[Callable[[bool, str], None]] = None) -> None:
        """Write the caption's speech to a file; the outcome comes back through the task queue."""
        def finished(ok, error):
            self.runner.post(self._speech_saved, (Path(path), ok, error))
            if on_finished:
                on_finished(ok, error)

        self.speech.save(self.view.get_caption(), path, finished)

    def _speech_saved(self, outcome):
        path, ok, error = outcome
        if ok:
            self.view.set_status(f"Speech saved to {path.name}")
        else:
            self.shell.show_error(error or f"{path}: could not save speech")
