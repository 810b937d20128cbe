"""Folder page: caption every photo in a folder on a worker, edit, export."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from ml.annotations import PathLike

from ..constants import ExportFormat

if TYPE_CHECKING:
    from ml.captioner import Captioner

    from ..application import App
    from ..models import SettingsModel
    from ..models.folder_captions import FolderCaptions
    from ..views.folder_view import FolderView
    from .tasks import TaskRunner


class FolderController:
    def __init__(self, app: App, view: FolderView, runner: TaskRunner, captions_model: FolderCaptions,
                 get_captioner: Callable[[], Optional[Captioner]], settings_model: SettingsModel):
        self.app, self.view, self.runner = app, view, runner
        self.captions, self.get_captioner, self.settings_model = captions_model, get_captioner, settings_model
        self.cancel_event: Optional[threading.Event] = None  # set while captioning runs
        self.paths: list[Path] = []  # the chosen folder's photos
        for event, handler in {"<<ChooseFolder>>": self.ask_folder, "<<CaptionFolder>>": self.caption_all,
                               "<<CancelFolder>>": self.cancel_job, "<<CaptionEdited>>": self.caption_edited,
                               "<<ExportCaptions>>": self.ask_export}.items():
            view.on(event, handler)

    def ask_folder(self) -> None:
        folder = self.app.dialogs.choose_folder("Choose a folder of photos")
        if folder:
            self.choose_folder(folder)

    def choose_folder(self, folder: PathLike) -> None:
        """List the folder's photos on a worker (a big folder must not freeze the window)."""
        folder = Path(folder)

        def work(report, cancel):
            from ml.images import list_images

            return list_images(folder)

        def listed(paths):
            self.paths = paths
            self.captions.reset(folder)
            self.view.clear_rows()
            self.view.set_folder(f"{folder}  ({len(paths)} photos)")
            self.view.set_running(False, has_rows=False)

        self.runner.submit("files", work, on_done=listed, on_error=lambda e: self.app.show_error(str(e)))

    def caption_all(self) -> None:
        captioner = self.get_captioner()
        if captioner is None:
            self.app.show_error("The model is still loading; try again in a moment")
            return
        if not self.paths or self.captions.folder is None:
            self.app.show_error("Choose a folder with photos first")
            return
        self.captions.reset(self.captions.folder)
        self.view.clear_rows()
        paths, beam = list(self.paths), self.settings_model.settings.beam_width

        def work(report, cancel):
            def each_batch(progress):
                report(progress)

            return captioner.caption(paths, beam_width=beam, on_progress=each_batch, cancel=cancel)

        self.cancel_event = self.runner.submit("folder", work, on_done=self._finished, on_progress=self._progress,
                                               on_cancelled=self._cancelled, on_error=self._failed)
        self.view.set_running(True, has_rows=False)
        self.view.show_progress(0)

    def _progress(self, progress):
        self.view.show_progress(progress.fraction)

    def _finished(self, results):
        self.cancel_event = None
        for index, result in enumerate(results):
            self.captions.add(result)
            if not result.error:
                self.view.add_row(str(index), result.path.name, result.caption)
        self.view.set_errors(self.captions.errors())
        self.view.show_progress(1.0)
        self.view.set_running(False, has_rows=bool(self.captions.captioned()))

    def _cancelled(self, _):
        self.cancel_event = None
        self.view.set_running(False, has_rows=False)
        self.view.show_progress(0)

    def _failed(self, error):
        self._cancelled(None)
        self.app.show_error(str(error))

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
        if export_format == ExportFormat.SIDECAR:
            in_the_way = self.captions.sidecars_in_the_way()
            overwrite = bool(in_the_way) and self.app.dialogs.confirm(
                "Replace files?", f"{len(in_the_way)} files next to the photos already hold other text "
                f"(e.g. {in_the_way[0].name}). Replace them with the captions?" if in_the_way else "")
            self.export(export_format, overwrite=overwrite)
            return
        target = self.app.dialogs.save_captions(self.captions.folder, export_format)
        if target:
            self.export(export_format, target)

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
            self.app.show_error(f"{getattr(error, 'filename', '') or target}: cannot write ({error.strerror})")
            return
        self.view.set_folder(message)
