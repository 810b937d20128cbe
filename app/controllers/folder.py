"""Folder page: caption every photo in a folder on a worker, edit, export."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ml.captioning.results import CaptionResult
from ml.core.progress import Phase, Progress, ProgressMeter
from ml.core.types import PathLike

from ..constants import ExportFormat, format_duration, percent_text
from .shell import Shell

if TYPE_CHECKING:
    from ..models import SettingsModel
    from ..models.folder_captions import FolderCaptions
    from ..models.metadata_undo import MetadataUndo
    from ..models.model_session import ModelSession
    from ..views.folder_view import FolderView
    from .tasks import TaskRunner


def sure_text(result: CaptionResult) -> str:
    """The table's Confidence cell: '72 %', 'not sure (8 %)', or empty (no calibration, or edited)."""
    if result.confidence is None:
        return "not sure" if result.unsure else ""
    percent = percent_text(result.confidence)
    return f"not sure ({percent})" if result.unsure else percent


class FolderController:
    def __init__(self, shell: Shell, view: FolderView, runner: TaskRunner, captions_model: FolderCaptions,
                 session: ModelSession, settings_model: SettingsModel, undo: Optional[MetadataUndo] = None):
        self.shell, self.view, self.runner = shell, view, runner
        self.captions, self.session, self.settings_model = captions_model, session, settings_model
        self.cancel_event: Optional[threading.Event] = None  # set while captioning runs
        self.undo = undo  # the files of the last Save into photos, as they were (Ctrl+Z)
        self.paths: list[Path] = []  # the chosen folder's photos
        self.unsure_choice = "hedge"  # how the last Save into photos wrote unsure captions: "hedge" or "skip"
        self.quarters_said = 0  # progress milestones already announced in Speak mode
        for event, handler in {"<<ChooseFolder>>": self.ask_folder, "<<CaptionFolder>>": self.caption_all,
                               "<<CancelFolder>>": self.cancel_job, "<<CaptionEdited>>": self.caption_edited,
                               "<<ExportCaptions>>": self.ask_export}.items():
            view.on(event, handler)

    def ask_folder(self) -> None:
        folder = self.shell.dialogs.choose_folder("Choose a folder of photos")
        if folder:
            self.choose_folder(folder)

    def choose_folder(self, folder: PathLike) -> None:
        """List the folder's photos on a worker (a big folder must not freeze the window)."""
        folder = Path(folder)

        def work(report, cancel):
            from ml.data.images import list_images

            return list_images(folder)

        self.runner.submit("files", work, on_done=lambda paths: self._listed(folder, paths),
                           on_error=lambda e: self.shell.show_error(str(e)))

    def _listed(self, folder: Path, paths: list[Path]) -> None:
        """Show the folder, with the captions (and edits) kept from last time."""
        self.captions.save()  # the folder left behind keeps its rows and edits
        self.paths = paths
        self.captions.reset(folder)
        restored = self.captions.restore(paths)
        self.view.clear_rows()
        for index, row in enumerate(self.captions.rows):
            if not row.error:
                self.view.add_row(str(index), row.path.name, row.caption, sure_text(row))
        self.view.set_errors(self.captions.errors())
        edited = f" ({len(self.captions.edited)} edited)" if self.captions.edited else ""
        kept = f", {restored} captions kept from last time{edited}" if restored else ""
        self.view.set_folder(f"{folder.name}  ({len(paths)} photo{'s' * (len(paths) != 1)}{kept})")
        self.view.show_progress(restored / len(paths) if paths else 0.0, "")
        self.view.set_running(False, has_rows=bool(self.captions.captioned()))

    def caption_all(self) -> None:
        captioner = self.session.captioner  # the Caption page's model: one model in use
        if captioner is None:
            self.shell.show_error("The model is still loading; try again in a moment")
            return
        if not self.paths or self.captions.folder is None:
            self.shell.show_error("Choose a folder with photos first")
            return
        if self.captions.edited and not self.shell.dialogs.confirm(
                "Caption all again?", f"{len(self.captions.edited)} captions here were edited by you. "
                "Captioning all again replaces them. Go on?"):
            return
        self.captions.reset(self.captions.folder)
        self.view.clear_rows()
        paths, beam = list(self.paths), self.settings_model.settings.beam_width

        def work(report, cancel):
            """Rows go to the window batch by batch (with count and ETA), so Cancel keeps every one made."""
            meter = ProgressMeter(Phase.CAPTION, len(paths), report)
            for batch in captioner.caption_batches(paths, beam, cancel=cancel):
                self.runner.post(self._rows_made, batch)
                meter.advance(len(batch))

        self.cancel_event = self.runner.submit("folder", work, on_done=self._stopped, on_progress=self._progress,
                                               on_cancelled=self._stopped, on_error=self._failed)
        self.view.set_running(True, has_rows=False)
        self.view.show_progress(0, f"0 of {len(paths)}")

    def _rows_made(self, batch: list[CaptionResult]) -> None:
        for result in batch:
            index = self.captions.add(result)
            if not result.error:
                self.view.add_row(str(index), result.path.name, result.caption, sure_text(result))
        if any(result.error for result in batch):
            self.view.set_errors(self.captions.errors())

    def _progress(self, progress: Progress) -> None:
        left = f", about {format_duration(progress.eta_s)} left" if progress.eta_s else ""
        self.view.show_progress(progress.fraction, f"{progress.done} of {progress.total}{left}")
        quarter = int(4 * progress.fraction)
        if 0 < quarter < 4 and quarter != self.quarters_said:  # milestones: a quarter, half, three quarters
            self.quarters_said = quarter
            self.shell.announce(f"{progress.done} of {progress.total} photos captioned")

    def _stopped(self, _=None) -> None:
        """Finished or cancelled: every row made stays, can be edited and exported, and is autosaved."""
        self.cancel_event = None
        done, total = len(self.captions.rows), len(self.paths)
        failed = len(self.captions.errors())
        said = (f"{done - failed} of {total} captioned" + (f", {failed} could not be read" if failed else "")
                + ("" if done == total else " (cancelled)"))
        self.view.show_progress(done / total if total else 0.0, said)
        self.shell.announce(said)
        self.quarters_said = 0
        self.view.set_running(False, has_rows=bool(self.captions.captioned()))
        self.captions.save()

    def _failed(self, error):
        self._stopped()
        self.shell.show_error(str(error))

    def cancel_job(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()

    def caption_edited(self) -> None:
        selected = self.view.selected_photo()
        text = self.view.get_edited_caption()
        if selected is not None and text:
            self.captions.edit(int(selected), text)
            self.view.update_row(selected, text)

    def ask_export(self) -> None:
        export_format = self.view.export_format
        if export_format is None:
            return
        if export_format == ExportFormat.METADATA:
            self.save_into_photos()
            return
        if export_format == ExportFormat.SIDECAR:
            in_the_way = self.captions.sidecars_in_the_way()
            overwrite = bool(in_the_way) and self.shell.dialogs.confirm(
                "Replace files?", f"{len(in_the_way)} file{'s' * (len(in_the_way) != 1)} next to the photos already hold other text "
                f"(e.g. {in_the_way[0].name}). Replace them with the captions?" if in_the_way else "")
            self.export(export_format, overwrite=overwrite)
            return
        target = self.shell.dialogs.save_captions(self.captions.folder, export_format)
        if target:
            self.export(export_format, target)

    def save_into_photos(self, ask: bool = True) -> None:
        """Write each caption into its photo's metadata, on a worker, after the user says yes; unsure captions
        are counted first and the user chooses to write them hedged or skip them (never as fact)."""
        count = len(self.captions.captioned())
        if not count or (ask and not self.shell.dialogs.confirm(
                "Save captions into the photos?",
                f"Write each caption into its photo as its description (EXIF and XMP; {count} photos). Only the "
                "description changes: the picture and its other details are kept. Photos whose format cannot "
                "hold it get a .xmp file beside them. A description a photo already has is kept; you are asked "
                "about those after.")):
            return
        unsure = self.captions.unsure_count()
        self.unsure_choice = "hedge"
        if unsure:
            hedge = self.shell.dialogs.choose(
                "Unsure captions",
                f"{unsure} of the {count} captions are unsure (marked in the Confidence column). Yes writes "
                "them as the app says them, starting \"I'm not sure\"; No skips those photos; Cancel saves "
                "nothing. (Edit a caption first to write your own words.)")
            if hedge is None:
                return
            self.unsure_choice = "hedge" if hedge else "skip"
        self.view.set_folder("Saving captions into the photos…")
        def work(report, cancel):
            if self.undo is not None:
                self.undo.keep_before(row.path for row in self.captions.captioned())
            return self.captions.export_metadata(unsure=self.unsure_choice)

        self.runner.submit("files", work, on_done=self._saved_into_photos,
                           on_error=lambda error: self.shell.show_error(str(error)))

    def _saved_into_photos(self, report) -> None:
        self.view.set_folder(report.summary() + (" · Ctrl+Z puts them back" if self.undo else ""))
        if report.failed:
            self.view.set_errors(self.captions.errors() + report.failed)
        if report.kept and self.shell.dialogs.confirm(
                "Replace the photos' own descriptions?",
                f"{len(report.kept)} of the photos already had a description, kept as it was (for example "
                f"{report.kept[0].photo.name}: \"{report.kept[0].existing[:80]}\"). Replace those with the "
                "captions? (No keeps them.)"):
            replace_in = {kept.photo for kept in report.kept}
            self.runner.submit("files", lambda progress, cancel: self.captions.export_metadata(replace_in,
                                                                                                self.unsure_choice),
                               on_done=self._saved_into_photos, on_error=lambda error: self.shell.show_error(str(error)))

    def export(self, export_format: ExportFormat, target: Optional[PathLike] = None, overwrite: bool = False) -> None:
        """Write the captions; sidecars replace other files only with overwrite (the user said yes)."""
        try:
            if export_format == ExportFormat.SIDECAR:
                message = self.captions.export_sidecars(overwrite).summary()
            elif target is None:
                return
            elif export_format == ExportFormat.CSV:
                self.captions.export_csv(target)
                message = f"Saved {Path(target).name}"
            else:
                self.captions.export_json(target)
                message = f"Saved {Path(target).name}"
        except OSError as error:
            self.shell.show_error(f"{getattr(error, 'filename', '') or target}: cannot write ({error.strerror})")
            return
        self.view.set_folder(message)
