"""Train the decoder on cached photo features: the cross-entropy epochs under the run's tf.distribute
strategy (batch size per replica, learning rate scaled by the replicas), with checkpoints every epoch, best
by dev loss, a lower learning rate from the best weights when dev loss stops falling, early stopping,
resume after a cancel or crash (ml/training/run_state.py), progress and a cancel flag
(ml/training/callbacks.py). Then, unless turned off, self-critical fine-tuning of the best weights
(ml/training/self_critical.py).
"""
from __future__ import annotations

import dataclasses
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ml.core.atomic import replace_atomically, set_aside, write_text_atomically
from ml.core.defaults import MIN_STEPS_PER_EPOCH, SMALL_DATA_BATCH
from ml.core.progress import CancelFlag, Cancelled, ProgressCallback
from ml.core.types import FeaturesByName, PathLike
from ml.data.captions import Dataset
from ml.data.vocab import Vocabulary
from ml.training.callbacks import ReportProgress, RunCheckpoint, StopOnCancel, check_room_for_checkpoint
from ml.training.config import TrainConfig
from ml.training.distribute import training_strategy
from ml.training.multi_worker import for_multi_worker, spans_workers, worker_lost
from ml.training.rows import build_vocabulary, caption_arrays, make_tf_dataset, row_shape, with_mirrored
from ml.training.run_state import DAMAGED_CHECKPOINT, compiled_decoder, load_checkpoint, start_or_resume
from ml.training.sampled_softmax import SampledSoftmaxDecoder, with_sampled_softmax
from ml.training.self_critical import fine_tune


@dataclass
class TrainResult:
    decoder: object
    vocab: Vocabulary
    history: list  # one dict per epoch: epoch, loss, val_loss, seconds
    best_epoch: int
    self_critical: Optional[dict] = None  # settings, mean reward of the first and last batches, seconds
    replicas: int = 1  # devices the cross-entropy epochs ran on (ml/training/distribute.py)
    batch_size: int = 0  # per replica, as trained (batches_for_data); 0: the config's
    learning_rate: float = 0.0


def batches_for_data(config: TrainConfig, captions: int) -> TrainConfig:
    """The config with its batch made smaller for a small data set, so that an epoch has MIN_STEPS_PER_EPOCH steps
    (never under SMALL_DATA_BATCH, never over the config's), and its learning rate by the square-root rule: a few
    hundred photos train at batch 64 and learning rate 1e-3 as they did before the default batch became 256."""
    batch = min(config.batch_size, max(SMALL_DATA_BATCH, captions // MIN_STEPS_PER_EPOCH))
    if batch == config.batch_size:
        return config
    return dataclasses.replace(config, batch_size=batch,
                               learning_rate=config.learning_rate * (batch / config.batch_size) ** 0.5)


def train_decoder(dataset: Dataset, features_by_name: FeaturesByName, config: TrainConfig, run_dir: PathLike,
                  on_progress: Optional[ProgressCallback] = None, cancel: Optional[CancelFlag] = None,
                  mirrored_by_name: Optional[FeaturesByName] = None) -> TrainResult:
    """Train (or resume training) a decoder; raises Cancelled if `cancel` is set (checkpoints kept).

    With config.mirrored, `mirrored_by_name` holds the training photos' mirror-image features."""
    run_dir = Path(run_dir)
    strategy = training_strategy()
    replicas = strategy.num_replicas_in_sync
    vocab = build_vocabulary(dataset, config)
    train = caption_arrays(dataset.splits["train"], dataset, features_by_name, vocab)
    if config.mirrored:
        train = with_mirrored(train, dataset.splits["train"], features_by_name, mirrored_by_name or {})
    config = batches_for_data(config, len(train[1]))
    # batch_size is per replica; the learning rate grows with the global batch (linear scaling rule).
    run_config = dataclasses.replace(config, batch_size=config.batch_size * replicas,
                                     learning_rate=config.learning_rate * replicas) if replicas > 1 else config
    dev = caption_arrays(dataset.splits["dev"], dataset, features_by_name, vocab)
    feature_dim = row_shape(train[0])[-1]
    with strategy.scope():  # variables (and so every replica's copy) are made here
        model, state = start_or_resume(run_dir, vocab, feature_dim, run_config, dataset.fingerprint())
        if 0 < config.sampled_words < len(vocab):
            model = with_sampled_softmax(model, config.sampled_words)
        if spans_workers(strategy):
            model = for_multi_worker(model)  # Keras's fit needs two fixes there (ml/training/multi_worker.py)
    steps = -(-len(train[1]) // run_config.batch_size)
    stop_on_cancel = StopOnCancel(cancel)
    callbacks = [ReportProgress(state, run_config, steps, on_progress), stop_on_cancel,
                 RunCheckpoint(run_dir, state, run_config, stop_on_cancel, on_progress)]
    if state["epoch"] < config.epochs and not state["stopped_early"]:
        with warnings.catch_warnings():
            # The rows come from a generator of unknown length, so Keras finds each epoch's end by running out
            # of them, and says so every epoch. (Stating the length with assert_cardinality silenced it but
            # made an epoch about 15 % slower here: 4.25 vs 5.15 s, bench_distribute.py.)
            warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
            try:
                with strategy.scope():
                    model.fit(make_tf_dataset(train, run_config.batch_size, config.seed + state["epoch"]),
                              validation_data=make_tf_dataset(dev, run_config.batch_size),
                              epochs=config.epochs, initial_epoch=state["epoch"], callbacks=callbacks, verbose=0,
                              shuffle=False)  # the rows are shuffled per epoch in make_tf_dataset
            except Exception as error:
                lost = worker_lost(error, run_dir) if spans_workers(strategy) else None
                if lost is None:
                    raise
                raise lost from None
    if stop_on_cancel.cancelled:
        raise Cancelled()
    if replicas > 1 or isinstance(model, SampledSoftmaxDecoder):
        # fine-tuning and saving run on one device, on a plain decoder outside the strategy
        model = compiled_decoder(vocab, feature_dim, config)
    load_checkpoint(model, run_dir / "best.weights.h5")
    fine_tuned = None
    if config.self_critical_epochs > 0:
        fine_tuned = _self_critical_stage(model, vocab, dataset, features_by_name, config, run_dir, state,
                                          on_progress, cancel)
    return TrainResult(model, vocab, state["history"], state["best_epoch"], fine_tuned, replicas, config.batch_size,
                       config.learning_rate)


def _self_critical_stage(model, vocab, dataset, features_by_name, config, run_dir, state, on_progress, cancel):
    """Fine-tune the best cross-entropy weights; a finished stage with the same settings is reused.
    A cancel leaves the cross-entropy checkpoints as they were (the stage starts over next time)."""

    settings = {"epochs": config.self_critical_epochs, "learning_rate": config.self_critical_lr,
                "human_weight": config.self_critical_human_weight}
    weights = run_dir / "self_critical.weights.h5"
    if weights.is_file() and state.get("self_critical", {}).get("settings") == settings:
        try:
            load_checkpoint(model, weights)
            return state["self_critical"]
        except DAMAGED_CHECKPOINT as error:  # fine-tune again from the best cross-entropy weights
            set_aside(weights, error)
            load_checkpoint(model, run_dir / "best.weights.h5")
    started = time.monotonic()
    rewards = fine_tune(model, vocab, dataset.splits["train"], features_by_name, dataset.captions,
                        config.self_critical_epochs, config.self_critical_lr, config.seed,
                        config.self_critical_human_weight, on_progress, cancel)
    check_room_for_checkpoint(run_dir, model, state["epoch"])
    replace_atomically(weights, model.save_weights, ".weights.h5")
    tenth = max(1, len(rewards) // 10)
    state["self_critical"] = {"settings": settings, "batches": len(rewards),
                              "reward_first_tenth": round(float(np.mean(rewards[:tenth])), 4),
                              "reward_last_tenth": round(float(np.mean(rewards[-tenth:])), 4),
                              "seconds": round(time.monotonic() - started, 1)}
    write_text_atomically(run_dir / "state.json", json.dumps(state, indent=2))
    return state["self_critical"]
