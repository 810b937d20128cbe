"""Train page: report on a data set, train with progress, cancel, resume, and adopt the result."""
from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from ml.core.defaults import installed, user_data_dir
from ml.core.progress import Phase
from ml.core.types import PathLike
from ml.model_file import BundleError
from ml.training.config import MIN_TRAIN_PHOTOS, TrainConfig

from ..constants import format_duration
from ..models.registry import SHIPPED_NAME, RegistryError
from .shell import Shell

if TYPE_CHECKING:
    from ..models import ModelEntry, ModelRegistry
    from ..views.train_view import TrainView
    from .tasks import TaskRunner


# Fewer training photos than this learn little: measured by benchmarks/bench_small_runs.py (first N Flickr8k
# training photos, EfficientNet-Lite0, 8 epochs, test greedy BLEU-4), said when a smaller run is started.
MIN_USEFUL_TRAIN_PHOTOS = 600
SMALL_RUN_EVIDENCE = ("Measured on Flickr8k (EfficientNet-Lite0, 8 epochs), test BLEU-4: 60 photos 0.0, "
                      "200 photos 7.2, 600 photos 12.8, 2,000 photos 14.5; the shipped model, trained on "
                      "6,000, scores 24.1.")


def parse_train_settings(form: dict[str, str]) -> dict:
    """The form's strings as checked settings, by the same rules as the CLI's (TrainConfig's ranges);
    raises ValueError with a one-line message."""
    def number(key, kind, label):
        try:
            return kind(form[key].strip())
        except ValueError:
            kind_text = "a whole number" if kind is int else "a number"
            raise ValueError(f"{label} must be {kind_text}, not '{form[key]}'") from None

    settings = {"encoder": form["encoder"], "decoder": form["decoder"], "epochs": number("epochs", int, "Epochs"),
                "batch_size": number("batch_size", int, "Batch size"),
                "learning_rate": number("learning_rate", float, "Learning rate")}
    TrainConfig(**settings)  # raises TrainingError (a ValueError) naming the setting out of range
    photos = number("max_train_photos", int, "Training photos") if form["max_train_photos"].strip() else None
    if photos is not None and photos < MIN_TRAIN_PHOTOS:
        raise ValueError(f"Training photos must be at least {MIN_TRAIN_PHOTOS} (or empty: all)")
    return {**settings, "max_train_photos": photos}


def result_lines(card: dict, comparison: dict, in_use_name: str) -> list[str]:
    """What a finished run tells the user: how training ended, the new model beside the one in use on the
    same photos, and a few photos with both captions."""
    history, best = card["history"], card["best_epoch"]
    epochs = card.get("training", {}).get("epochs", len(history))
    ending = (f"stopped early: the dev loss stopped improving after epoch {best}" if len(history) < epochs
              else f"best epoch {best}")
    lines = [f"Finished {len(history)} of {epochs} epochs ({ending}).", "",
             f"On the same {comparison['photos']} test photos (greedy):"]
    for label, name in (("new", "new model"), ("in use", f"in use ({in_use_name})")):
        scores = comparison["scores"].get(label, {})
        lines.append(f"  {name:24s} BLEU-1 {scores.get('bleu1', 0):5.1f}  BLEU-4 {scores.get('bleu4', 0):5.1f}"
                     f"  CIDEr {scores.get('cider', 0):5.1f}")
    lines += ["", "Captions of a few of them:"]
    for photo, captions in comparison["samples"]:
        lines += [f"  {photo}", f"    new: {captions.get('new', '')}", f"    in use: {captions.get('in use', '')}"]
    return lines


STEP_NAMES = {Phase.FEATURES: "Step 1 of 3: photo features", Phase.TRAIN: "Step 2 of 3: training epochs",
              Phase.FINE_TUNE: "Step 3 of 3: fine-tuning"}


class TrainController:
    def __init__(self, shell: Shell, view: TrainView, runner: TaskRunner, registry: ModelRegistry,
                 on_model_added: Callable[[ModelEntry], None]):
        self.shell, self.view, self.runner, self.registry = shell, view, runner, registry
        self.on_model_added = on_model_added
        self.dataset_folder: Optional[Path] = None  # chosen and read without error
        self.run_dir: Optional[Path] = None  # the run that Resume continues
        self.settings: dict = {}  # the checked form of the run in run_dir
        self.cancel_event: Optional[threading.Event] = None  # set while a run is going
        self.result_card: Optional[dict] = None
        self.kept_entry: Optional[ModelEntry] = None  # the finished run's model, kept on the Models page
        self.comparison: dict = {}  # the new model beside the one in use, when a run has finished
        self.train_photos = 0  # in the chosen data set
        self.unfinished: dict[str, dict] = {}  # description -> run record, for runs a restart left unfinished
        self.epochs: list[dict] = []  # losses of the finished epochs, for the plot
        self.phase_said: Optional[Phase] = None  # the step last announced in Speak mode
        for event, handler in {"<<ChooseDataset>>": self.ask_dataset, "<<StartTraining>>": self.start,
                               "<<CancelTraining>>": self.cancel_training, "<<ResumeTraining>>": self.resume,
                               "<<UseTrainedModel>>": self.use_model,
                               "<<ResumeUnfinishedRun>>": self.resume_unfinished}.items():
            view.on(event, handler)

    def disable_without_tensorflow(self) -> bool:
        """In a build without TensorFlow (the caption-only package) the Train page says training needs the
        full build; returns whether it did."""
        if installed("tensorflow"):
            return False
        self.view.set_training_unavailable("Training needs the full build of Image Captioner (with TensorFlow); "
                                           "this build describes photos only.")
        return True

    @property
    def running(self) -> bool:
        return self.cancel_event is not None

    def ask_dataset(self) -> None:
        folder = self.shell.dialogs.choose_folder("Choose a data set folder")
        if folder:
            self.choose_dataset(folder)

    def choose_dataset(self, folder: PathLike) -> None:
        """Read the data set on a worker and show what was found before any work."""
        folder = Path(folder)
        self.view.set_dataset_report(f"Reading {folder}…")

        def work(report, cancel):
            from ml.data.datasets import load_dataset

            dataset = load_dataset(folder)
            return dataset.summary(), len(dataset.splits["train"])

        def found(outcome):
            summary, self.train_photos = outcome
            self.dataset_folder = folder
            self.view.set_dataset_report(summary)

        def failed(error):
            self.dataset_folder = None
            self.view.set_dataset_report(str(error))
            self.shell.show_error(str(error))

        self.runner.submit("files", work, on_done=found, on_error=failed)

    def start(self) -> None:
        if self.dataset_folder is None:
            self.shell.show_error("Choose a data set folder first")
            return
        try:
            self.settings = parse_train_settings(self.view.get_settings())
        except ValueError as error:
            self.shell.show_error(str(error))
            return
        photos = min(self.settings["max_train_photos"] or self.train_photos, self.train_photos)
        if photos < MIN_USEFUL_TRAIN_PHOTOS and not self.shell.dialogs.confirm(
                "Train on so few photos?", f"This run has {photos} training photos. {SMALL_RUN_EVIDENCE} "
                f"Use at least {MIN_USEFUL_TRAIN_PHOTOS} photos for a model that describes photos. Start anyway?"):
            return
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.run_dir = user_data_dir() / "runs" / f"{self.dataset_folder.name}-{self.settings['encoder']}-{stamp}"
        self.epochs = []
        self._launch(self.dataset_folder, self.run_dir)

    def list_unfinished_runs(self) -> None:
        """Find, on a worker, the runs a restart left unfinished (the Train page offers to resume them)."""
        def work(report, cancel):
            from ml.training.runs import unfinished_runs

            return unfinished_runs(user_data_dir() / "runs")

        self.runner.submit("files", work, on_done=self._unfinished_listed)

    def _unfinished_listed(self, runs: list[dict]) -> None:
        self.unfinished = {f"{Path(r['run_dir']).name} ({r['epochs_done']} of {r['config'].get('epochs', '?')} "
                           f"epochs, data {Path(r['data']).name})": r for r in runs}
        self.view.set_unfinished_runs(list(self.unfinished))

    def resume_unfinished(self) -> None:
        """Continue a run found on disk: its data set, settings and checkpoints, as if it had not stopped."""
        run = self.unfinished.get(self.view.chosen_unfinished_run())
        if run is None or self.running:
            return
        self.dataset_folder, self.run_dir = Path(run["data"]), Path(run["run_dir"])
        self.settings = {**run["config"], "max_train_photos": run["max_train_photos"]}
        self.epochs = []
        self._launch(self.dataset_folder, self.run_dir)

    def resume(self) -> None:
        if self.run_dir is not None and self.dataset_folder is not None and not self.running:
            self._launch(self.dataset_folder, self.run_dir)

    def _launch(self, folder: Path, run_dir: Path):
        settings = dict(self.settings)
        photos = settings.pop("max_train_photos")
        config = TrainConfig(**settings)
        output = run_dir / f"{run_dir.name}.captioner"  # the file name becomes the model's name

        in_use = self.registry.active_path()

        def work(report, cancel):
            from ml.training.pipeline import (  # TensorFlow: on the worker, never the UI thread
                compare_models,
                train_model,
            )

            card = train_model(folder, output, config, run_dir=run_dir, max_train_photos=photos,
                               on_progress=report, cancel=cancel)
            comparison = compare_models({"new": output, "in use": in_use}, folder, photos)
            return card, comparison

        self.result_card, self.phase_said = None, None
        self.view.set_results("")
        self.cancel_event = self.runner.submit("train", work, on_done=self._finished, on_error=self._failed,
                                               on_progress=self._progress, on_cancelled=self._cancelled)
        self.view.set_running(True, can_resume=False, has_result=False)
        self.view.show_progress("Step 1 of 3: loading TensorFlow for training…", 0)

    def _progress(self, progress):
        if progress.phase == Phase.EPOCH:
            self.epochs.append(progress.values)
            self.view.plot_losses(self.epochs)
            self.shell.announce(f"Epoch {len(self.epochs)} done, dev loss {progress.values.get('val_loss', 0):.2f}")
            return
        if progress.phase != self.phase_said and progress.phase in STEP_NAMES:
            self.phase_said = progress.phase
            self.shell.announce(STEP_NAMES[progress.phase])
        eta = f", about {format_duration(progress.eta_s)} left" if progress.eta_s else ""
        if progress.phase == Phase.FEATURES:
            text = f"Step 1 of 3: photo features {progress.done}/{progress.total}"
        elif progress.phase == Phase.TRAIN:
            text = f"Step 2 of 3: {progress.message}, batch loss {progress.values.get('loss', float('nan')):.2f}"
        elif progress.phase == Phase.FINE_TUNE:
            text = (f"Step 3 of 3: {progress.message}, batch {progress.done}/{progress.total}, "
                    f"score {progress.values.get('reward', float('nan')):.2f}")
        else:
            return
        self.view.show_progress(text + eta, progress.fraction)

    def _finished(self, outcome):
        """A finished model is kept among the user's models at once (not in use until the user says so): one
        left unadopted was found only inside its run folder."""
        card, self.comparison = outcome
        self.cancel_event, self.result_card = None, card
        active = self.registry.active_path()
        in_use = SHIPPED_NAME if active == self.registry.shipped_model else active.stem
        lines = result_lines(card, self.comparison, in_use)
        self.kept_entry = self._keep_model()
        if self.kept_entry is not None:
            lines += ["", f"Kept on the Models page as \"{self.kept_entry.name}\"; \"Use this model\" puts it in use."]
        self.view.set_results("\n".join(lines))
        self.view.show_progress("Done", 1.0)
        self.shell.announce("Training finished. " + (lines[0] if lines else ""))
        self.view.set_model_name(self.kept_entry.name if self.kept_entry else (self.run_dir.name if self.run_dir else "my-model"))
        self.view.set_running(False, can_resume=False, has_result=True)
        self.list_unfinished_runs()

    def _keep_model(self) -> Optional[ModelEntry]:
        if self.run_dir is None:
            return None
        try:
            return self.registry.add(self.run_dir / f"{self.run_dir.name}.captioner",
                                     name=self.registry.free_name(self.run_dir.name))
        except (RegistryError, BundleError, OSError) as error:
            self.shell.show_error(f"The new model could not be kept among your models: {error}")
            return None

    def _cancelled(self, _):
        self.cancel_event = None
        self.view.show_progress("Cancelled: finished epochs are kept. Resume continues from them.", 0)
        self.shell.announce("Training cancelled; finished epochs are kept")
        self.view.set_running(False, can_resume=True, has_result=False)
        self.list_unfinished_runs()

    def _failed(self, error):
        self.cancel_event = None
        self.view.show_progress("Stopped by an error", 0)
        self.view.set_running(False, can_resume=self.run_dir is not None, has_result=False)
        self.shell.show_error(str(error))

    def cancel_training(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.view.show_progress("Cancelling…", 0)

    def use_model(self) -> None:
        """Add the trained model under the name the user gave and make it the one in use; a model that
        scores lower than the one in use on the same photos is adopted only after a warning."""
        if self.result_card is None or self.run_dir is None:
            return
        new, in_use = (self.comparison["scores"].get(k, {}).get("bleu4", 0.0) for k in ("new", "in use"))
        if new < in_use and not self.shell.dialogs.confirm(
                "Use a weaker model?", f"The new model scores lower than the one in use on the same "
                f"{self.comparison['photos']} photos (BLEU-4 {new:.1f} against {in_use:.1f}). Use it anyway?"):
            return
        name = "".join(c if c.isalnum() or c in "-_ ." else "-" for c in self.view.get_model_name()).strip() \
            or self.run_dir.name
        try:
            if self.kept_entry is not None:
                entry = self.registry.rename(self.kept_entry, name)
            else:
                entry = self.registry.add(self.run_dir / f"{self.run_dir.name}.captioner", name=name)
        except (RegistryError, OSError) as error:
            self.shell.show_error(str(error))
            return
        self.kept_entry = None
        self.on_model_added(entry)
        self.view.set_running(False, can_resume=False, has_result=False)
