"""Train page: report on a data set, train with progress, cancel, resume, and adopt the result."""
from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from ml.annotations import PathLike
from ml.card import metric_key
from ml.config import user_data_dir
from ml.progress import Phase
from ml.train_config import MIN_TRAIN_PHOTOS, TrainConfig

from ..constants import format_duration

if TYPE_CHECKING:
    from ..application import App
    from ..models import ModelEntry, ModelRegistry
    from ..views.train_view import TrainView
    from .tasks import TaskRunner


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


class TrainController:
    def __init__(self, app: App, view: TrainView, runner: TaskRunner, registry: ModelRegistry,
                 on_model_added: Callable[[ModelEntry], None]):
        self.app, self.view, self.runner, self.registry = app, view, runner, registry
        self.on_model_added = on_model_added
        self.dataset_folder: Optional[Path] = None  # chosen and read without error
        self.run_dir: Optional[Path] = None  # the run that Resume continues
        self.settings: dict = {}  # the checked form of the run in run_dir
        self.cancel_event: Optional[threading.Event] = None  # set while a run is going
        self.result_card: Optional[dict] = None
        self.epochs: list[dict] = []  # losses of the finished epochs, for the plot
        for event, handler in {"<<ChooseDataset>>": self.ask_dataset, "<<StartTraining>>": self.start,
                               "<<CancelTraining>>": self.cancel_training, "<<ResumeTraining>>": self.resume,
                               "<<UseTrainedModel>>": self.use_model}.items():
            view.on(event, handler)

    @property
    def running(self) -> bool:
        return self.cancel_event is not None

    def ask_dataset(self) -> None:
        folder = self.app.dialogs.choose_folder("Choose a data set folder")
        if folder:
            self.choose_dataset(folder)

    def choose_dataset(self, folder: PathLike) -> None:
        """Read the data set on a worker and show what was found before any work."""
        folder = Path(folder)
        self.view.set_dataset_report(f"Reading {folder}…")

        def work(report, cancel):
            from ml.datasets import load_dataset

            return load_dataset(folder).summary()

        def found(summary):
            self.dataset_folder = folder
            self.view.set_dataset_report(summary)

        def failed(error):
            self.dataset_folder = None
            self.view.set_dataset_report(str(error))
            self.app.show_error(str(error))

        self.runner.submit("files", work, on_done=found, on_error=failed)

    def start(self) -> None:
        if self.dataset_folder is None:
            self.app.show_error("Choose a data set folder first")
            return
        try:
            self.settings = parse_train_settings(self.view.get_settings())
        except ValueError as error:
            self.app.show_error(str(error))
            return
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.run_dir = user_data_dir() / "runs" / f"{self.dataset_folder.name}-{self.settings['encoder']}-{stamp}"
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

        def work(report, cancel):
            from ml.pipeline import train_model  # TensorFlow: imported here, on the worker, never the UI thread

            card = train_model(folder, output, config, run_dir=run_dir, max_train_photos=photos,
                               on_progress=report, cancel=cancel)
            return card, self._sample_captions(output, folder)

        self.result_card = None
        self.view.set_results("")
        self.cancel_event = self.runner.submit("train", work, on_done=self._finished, on_error=self._failed,
                                               on_progress=self._progress, on_cancelled=self._cancelled)
        self.view.set_running(True, can_resume=False, has_result=False)
        self.view.show_progress("Step 1 of 3: photo features…", 0)

    @staticmethod
    def _sample_captions(model_path, folder):
        from ml.captioner import Captioner
        from ml.datasets import load_dataset

        dataset = load_dataset(folder)
        names = dataset.splits["test"][:5]
        results = Captioner.load(model_path).caption([dataset.image_path(n) for n in names], beam_width=3)
        return [(r.path.name, r.caption or r.error) for r in results]

    def _progress(self, progress):
        if progress.phase == Phase.EPOCH:
            self.epochs.append(progress.values)
            self.view.plot_losses(self.epochs)
            return
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
        card, samples = outcome
        self.cancel_event, self.result_card = None, card
        test = card["metrics"][metric_key("test", 1)]
        lines = [f"Finished: best epoch {card['best_epoch']} of {len(card['history'])}.",
                 "Test split (greedy): " + ", ".join(f"{k.upper()} {v:.1f}" for k, v in test.items()), "",
                 "Sample captions (beam 3):"] + [f"  {name}: {text}" for name, text in samples]
        self.view.set_results("\n".join(lines))
        self.view.show_progress("Done", 1.0)
        self.view.set_running(False, can_resume=False, has_result=True)

    def _cancelled(self, _):
        self.cancel_event = None
        self.view.show_progress("Cancelled: finished epochs are kept. Resume continues from them.", 0)
        self.view.set_running(False, can_resume=True, has_result=False)

    def _failed(self, error):
        self.cancel_event = None
        self.view.show_progress("Stopped by an error", 0)
        self.view.set_running(False, can_resume=self.run_dir is not None, has_result=False)
        self.app.show_error(str(error))

    def cancel_training(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.view.show_progress("Cancelling…", 0)

    def use_model(self) -> None:
        """Add the trained model to the registry and make it the default."""
        if self.result_card is None or self.run_dir is None:
            return
        name = self.run_dir.name
        entry = self.registry.add(self.run_dir / f"{name}.captioner", name=name)
        self.registry.set_active(entry.path)
        self.on_model_added(entry)
        self.view.set_running(False, can_resume=False, has_result=False)
