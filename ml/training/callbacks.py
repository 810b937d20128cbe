"""The three jobs Keras has no callback for, run after each batch or epoch of training: progress with ETA,
a cancel flag, and the resumable checkpoint with early stopping and the step-down to the best weights."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Optional

import keras
import numpy as np

from ml.core.atomic import replace_atomically, write_text_atomically
from ml.core.errors import TrainingError
from ml.core.progress import CancelFlag, Phase, Progress, ProgressCallback, ProgressMeter
from ml.training.config import TrainConfig

# Why not Keras' EarlyStopping, ModelCheckpoint and BackupAndRestore: a run here is resumed by a new
# process (after a cancel, a crash or Ctrl+C) and must go on exactly as if it had not stopped. Keras'
# callbacks keep their counters (best loss, epochs waited) in memory only and start them afresh in every
# fit(); ModelCheckpoint writes its file in place (a kill during the save leaves a truncated checkpoint);
# BackupAndRestore deletes its backup when fit() ends, and this run folder is kept for the fine-tuning
# stage and for a rerun. So the run's own state (state.json) decides, and the callbacks below are the
# three jobs Keras has no callback for: progress with ETA, a cancel flag, and the resumable checkpoint
# with early stopping and the step-down to the best weights.


class ReportProgress(keras.callbacks.Callback):
    """A Progress report per training batch (loss, rate, ETA over the whole run)."""

    def __init__(self, state: dict, config: "TrainConfig", steps_per_epoch: int,
                 on_progress: Optional[ProgressCallback]):
        super().__init__()
        self.state, self.epochs = state, config.epochs
        self.meter = ProgressMeter(Phase.TRAIN, config.epochs * steps_per_epoch, on_progress,
                                   state["epoch"] * steps_per_epoch)

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        self.meter.advance(1, f"epoch {len(self.state['history']) + 1}/{self.epochs}",
                           {"loss": float((logs or {}).get("loss", np.nan))})


class StopOnCancel(keras.callbacks.Callback):
    """Stops training within a batch of the cancel flag being set; the cut-short epoch is not kept."""

    def __init__(self, cancel: Optional[CancelFlag]):
        super().__init__()
        self.cancel, self.cancelled = cancel, False

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        if self.cancel is not None and self.cancel.is_set():
            self.cancelled = True
            self.model.stop_training = True

    def on_test_begin(self, logs: Optional[dict] = None) -> None:
        if self.cancelled:  # Keras still runs the cut-short epoch's dev evaluation: one batch of it, not all
            self.model.stop_evaluating = True


# Room left over a checkpoint's own bytes: file headers, the Keras config, the run state.
CHECKPOINT_MARGIN = 1 << 20


def check_room_for_checkpoint(run_dir: Path, model: keras.Model, epochs_done: int) -> None:
    """h5py takes the whole process down (a segmentation fault) when the disk fills during a save (issue 24 N12),
    so an epoch's checkpoints that cannot fit are refused first, in one line; the last saved epoch stays whole."""
    weights = sum(int(np.prod(variable.shape)) * 4 for variable in model.weights)
    optimizer = sum(int(np.prod(variable.shape)) * 4 for variable in getattr(model.optimizer, "variables", []))
    needed = 2 * weights + optimizer + CHECKPOINT_MARGIN  # best.weights.h5, then last.keras with Adam's moments
    free = shutil.disk_usage(run_dir).free
    if free < needed:
        raise TrainingError(f"{run_dir}: the disk is too full for this epoch's checkpoint (about {needed / 2**20:.0f} MB "
                            f"needed, {free / 2**20:.0f} MB free); free some space and run the same command to go on "
                            f"from epoch {epochs_done}")


class RunCheckpoint(keras.callbacks.Callback):
    """After each whole epoch: keep the best weights by dev loss, stop after `patience` epochs without a
    better one, else step down to the best weights with a lower learning rate; then save the model and
    the run state (atomically) and report the epoch."""

    def __init__(self, run_dir: Path, state: dict, config: "TrainConfig", stop_on_cancel: StopOnCancel,
                 on_progress: Optional[ProgressCallback]):
        super().__init__()
        self.run_dir, self.state, self.config = run_dir, state, config
        self.stop_on_cancel, self.on_progress = stop_on_cancel, on_progress

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.epoch_start = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        if self.stop_on_cancel.cancelled:
            return  # a cut-short epoch is not a checkpoint
        logs = logs or {}
        record = {"epoch": epoch + 1, "loss": float(logs["loss"]), "val_loss": float(logs["val_loss"]),
                  "seconds": round(time.monotonic() - self.epoch_start, 1)}
        self.state["history"].append(record)
        self.state["epoch"] = epoch + 1
        check_room_for_checkpoint(self.run_dir, self.model, epoch)
        if record["val_loss"] < self.state["best_val_loss"]:
            self.state.update(best_val_loss=record["val_loss"], best_epoch=epoch + 1, waited=0)
            replace_atomically(self.run_dir / "best.weights.h5", self.model.save_weights, ".weights.h5")
        else:
            self._no_better_epoch()
        replace_atomically(self.run_dir / "last.keras", self.model.save, ".keras")
        write_text_atomically(self.run_dir / "state.json", json.dumps(self.state, indent=2))
        if self.on_progress:
            self.on_progress(Progress(Phase.EPOCH, epoch + 1, self.config.epochs, values=dict(record)))

    def _no_better_epoch(self):
        self.state["waited"] += 1
        if self.state["waited"] >= self.config.patience:
            self.state["stopped_early"] = True
            self.model.stop_training = True
        elif self.config.lr_decay != 1.0:
            self._step_down()

    def _step_down(self):
        """Continue from the best weights with a smaller learning rate (the usual cure for the
        early overfit of caption decoders)."""
        self.model.load_weights(self.run_dir / "best.weights.h5")
        self.state["learning_rate"] = self.state.get("learning_rate", self.config.learning_rate) * self.config.lr_decay
        self.model.optimizer.learning_rate.assign(self.state["learning_rate"])
