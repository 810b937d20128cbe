"""Train the decoder on cached photo features: checkpoints every epoch, best by dev loss, a lower
learning rate from the best weights when dev loss stops falling, early stopping, resume after a
cancel or crash, progress per batch and per epoch, and a cancel flag. Then, unless turned off,
self-critical fine-tuning of the best weights (ml/training/self_critical.py).
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

import keras
import numpy as np

from ml.core import defaults
from ml.core.atomic import remove_stale_temp_files, replace_atomically, set_aside, write_text_atomically
from ml.core.errors import TrainingError
from ml.core.progress import CancelFlag, Cancelled, Phase, Progress, ProgressCallback, ProgressMeter
from ml.core.types import CaptionArrays, FeaturesByName, PathLike
from ml.data.vocab import Vocabulary
from ml.decoders.keras_models import build_decoder
from ml.features.table import FeatureTable
from ml.training.config import TrainConfig
from ml.training.distribute import training_strategy
from ml.training.self_critical import fine_tune

if TYPE_CHECKING:
    import tensorflow as tf

    from ml.data.datasets import Dataset




# Settings added after runs were first saved, with the value those older runs used.
SETTINGS_OF_OLDER_RUNS = {"lr_decay": 1.0, "mirrored": False, "self_critical_epochs": 0.0,
                          "self_critical_lr": defaults.SELF_CRITICAL_LR, "self_critical_human_weight": 0.0}
# Settings of the fine-tuning stage only: changing them reuses the cross-entropy run as it is.
FINE_TUNING_SETTINGS = ("self_critical_epochs", "self_critical_lr", "self_critical_human_weight")


@dataclass
class TrainResult:
    decoder: object
    vocab: Vocabulary
    history: list  # one dict per epoch: epoch, loss, val_loss, seconds
    best_epoch: int
    self_critical: Optional[dict] = None  # settings, mean reward of the first and last batches, seconds
    replicas: int = 1  # devices the cross-entropy epochs ran on (ml/training/distribute.py)


def build_vocabulary(dataset: Dataset, config: TrainConfig) -> Vocabulary:
    """Counted in one pass over the training captions (no list of them is made)."""
    train_captions = (words for name in dataset.splits["train"] for words in dataset.captions[name])
    return Vocabulary.build(train_captions, config.min_word_count, config.max_words)


def _feature_source(photos: Sequence[str], features_by_name: FeaturesByName) -> tuple[Any, list[int]]:
    """Where the photos' features are read from, and each photo's row there: a FeatureTable on disk that
    holds them all (training photos; memory does not grow with their number), else an array stacked here."""
    maps = getattr(features_by_name, "maps", [features_by_name])  # FeatureSources: dicts and tables
    for source in maps:
        if isinstance(source, FeatureTable) and all(name in source for name in photos):
            return source, [source.index[name] for name in photos]
    return np.stack([features_by_name[name] for name in photos]), list(range(len(photos)))


def _row_shape(source: Any) -> tuple:
    """The shape of one photo's features in a feature source (a FeatureTable or an array)."""
    return source.row_shape if isinstance(source, FeatureTable) else source.shape[1:]


def caption_arrays(names: Sequence[str], dataset: Dataset, features_by_name: FeaturesByName,
                   vocab: Vocabulary) -> CaptionArrays:
    """Photo features once per photo (a FeatureTable's rows, or an array), and one row per caption: (photo
    features, photo row, input ids, target ids). Photos without features are skipped. Inputs and targets
    are two views of one array of ids, uint16 where the vocabulary allows: a quarter of the memory of two
    int32 arrays, which grew with the data set (COCO: 590k captions)."""
    photos = [name for name in names if name in features_by_name]
    if not photos:
        raise TrainingError("no captions with photo features to train on")
    source, photo_rows = _feature_source(photos, features_by_name)
    counts = [len(dataset.captions[name]) for name in photos]
    photo_index = np.repeat(np.array(photo_rows, np.int32), counts)
    id_type = np.uint16 if len(vocab) <= np.iinfo(np.uint16).max else np.int32
    captions = (words for name in photos for words in dataset.captions[name])
    ids = vocab.caption_ids(captions, len(photo_index), id_type)
    return source, photo_index, ids[:, :-1], ids[:, 1:]


def with_mirrored(arrays: CaptionArrays, names: Sequence[str], features_by_name: FeaturesByName,
                  mirrored_by_name: FeaturesByName) -> CaptionArrays:
    """The training rows twice: once with each photo's features, once with its mirror image's (both held
    in memory: mirroring doubles the features anyway).

    `names` are the photos `arrays` was made from, in the same order."""
    source, photo_index, inputs, targets = arrays
    photos = [name for name in names if name in features_by_name]
    missing = [name for name in photos if name not in mirrored_by_name]
    if missing:
        raise TrainingError(f"{missing[0]}: no features of the mirrored photo")
    plain = source.rows(range(len(source))) if isinstance(source, FeatureTable) else source
    mirrored = np.stack([mirrored_by_name[name] for name in photos]).astype(plain.dtype)
    if isinstance(source, FeatureTable):  # rows were table rows: put the mirrored photos in the same order
        mirrored_rows = np.empty_like(plain)
        mirrored_rows[[source.index[name] for name in photos]] = mirrored
        mirrored = mirrored_rows
    return (np.concatenate([plain, mirrored]), np.concatenate([photo_index, photo_index + len(plain)]),
            np.concatenate([inputs, inputs]), np.concatenate([targets, targets]))


def make_tf_dataset(arrays: CaptionArrays, batch_size: int, shuffle_seed: Optional[int] = None) -> tf.data.Dataset:
    """Batches of ({image or grid, words}, targets), padding trimmed to the longest caption in each batch.
    The pipeline carries only caption row numbers; each batch's features and ids are gathered then (numpy),
    so nothing is copied into TensorFlow per caption and a FeatureTable is read a batch at a time."""
    import tensorflow as tf

    source, photo_index, inputs, targets = arrays
    read = source.rows if isinstance(source, FeatureTable) else source.__getitem__
    row_shape = _row_shape(source)
    feature_key = "grid" if len(row_shape) == 2 else "image"
    order = np.random.default_rng(shuffle_seed)

    def batches_of_rows():
        """Caption row numbers batch by batch, in a new order each epoch: shuffled here, not in a tf.data
        shuffle buffer (that holds every caption's row as a tensor: 50 MB for COCO)."""
        rows = order.permutation(len(photo_index)) if shuffle_seed is not None else np.arange(len(photo_index))
        for start in range(0, len(rows), batch_size):
            yield rows[start:start + batch_size]

    def gather(caption_rows):
        caption_rows = np.asarray(caption_rows)
        features = np.asarray(read(photo_index[caption_rows]), np.float32)
        return features, inputs[caption_rows].astype(np.int32), targets[caption_rows].astype(np.int32)

    def assemble(caption_rows):
        features, words, target = tf.numpy_function(gather, [caption_rows], [tf.float32, tf.int32, tf.int32])
        features.set_shape((None,) + tuple(row_shape))
        words.set_shape((None, inputs.shape[1]))
        target.set_shape((None, targets.shape[1]))
        length = tf.reduce_max(tf.reduce_sum(tf.cast(words != 0, tf.int32), axis=1))
        return {feature_key: features, "words": words[:, :length]}, target[:, :length]

    # do_not_convert: plain tensor code needs no AutoGraph, and a frozen app has no source for it to read.
    assemble = tf.autograph.experimental.do_not_convert(assemble)
    batches = tf.data.Dataset.from_generator(batches_of_rows, output_signature=tf.TensorSpec((None,), tf.int64))
    return batches.map(assemble, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _compiled_decoder(vocab, feature_dim, config):
    model = build_decoder(config.decoder, len(vocab), feature_dim, config.units, config.dropout)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    return model


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


def _cross_entropy_settings(settings) -> str:
    """The settings that decide the cross-entropy run, as comparable text."""
    return json.dumps({k: v for k, v in settings.items() if k not in FINE_TUNING_SETTINGS}, sort_keys=True)


def _saved_config(config_file) -> str:
    return _cross_entropy_settings({**SETTINGS_OF_OLDER_RUNS, **json.loads(config_file.read_text())})


def _describe_data(fingerprint: dict) -> str:
    photos = fingerprint.get("photos", {})
    return (f"layout {fingerprint.get('layout')}, "
            f"{'/'.join(str(photos.get(s, '?')) for s in ('train', 'dev', 'test'))} train/dev/test photos")


def _refuse_other_data(run_dir: Path, fingerprint: dict, vocab: Vocabulary) -> None:
    """A run folder resumes only on the data it started on; anything else would mix two runs."""
    data_file = run_dir / "data.json"
    if data_file.is_file():
        saved = json.loads(data_file.read_text())
        if saved == fingerprint:
            return
        same_counts = _describe_data(saved) == _describe_data(fingerprint)
        difference = ("the same counts but other photos or captions" if same_counts
                      else f"{_describe_data(saved)}, now {_describe_data(fingerprint)}")
    elif Vocabulary.from_json((run_dir / "vocab.json").read_text()).words != vocab.words:
        difference = "its vocabulary differs from this data's"  # a run folder from before data.json
    else:
        return
    raise TrainingError(f"{run_dir}: this run folder was started on other data ({difference}); "
                        "choose another run folder or delete this one")


def _readable_weights(path: Path, vocab: Vocabulary, feature_dim: int, config: TrainConfig):
    """A compiled decoder holding the weights in `path`, or None (the file set aside) if they cannot be read."""
    model = _compiled_decoder(vocab, feature_dim, config)
    try:
        model.load_weights(path)
    except Exception as error:  # h5py and Keras raise many types for a damaged file
        set_aside(path, error)
        return None
    return model


def _resume_from_checkpoints(run_dir: Path, state: dict, vocab: Vocabulary, feature_dim: int,
                             config: TrainConfig) -> Optional[tuple]:
    """(model, state) from the run's checkpoints; a damaged one is set aside and the run goes on from the
    one that is left (the last epoch, or the best one); None when neither can be read (start afresh)."""
    last, best = run_dir / "last.keras", run_dir / "best.weights.h5"
    try:
        model = keras.models.load_model(last, safe_mode=True)
    except Exception as error:  # a damaged zip, HDF5 or config: Keras raises many types
        set_aside(last, error)
        model = None
    best_model = _readable_weights(best, vocab, feature_dim, config) if best.is_file() else None
    if model is None and best_model is None:
        return None
    if model is None:  # go back to the best epoch: its weights, its place in the history
        model = best_model
        state.update(epoch=state["best_epoch"], history=state["history"][:state["best_epoch"]], waited=0,
                     stopped_early=False)
    elif best_model is None:  # the last epoch's weights become the best known
        replace_atomically(best, model.save_weights, ".weights.h5")
        state.update(best_epoch=state["epoch"], best_val_loss=state["history"][-1]["val_loss"], waited=0)
    model.optimizer.learning_rate.assign(state.get("learning_rate", config.learning_rate))
    return model, state


def _start_or_resume(run_dir, vocab, feature_dim, config, fingerprint):
    """A compiled model and the run state: fresh, or continued from the last checkpoint of the same
    settings and data."""
    config_file, state_file, last = run_dir / "config.json", run_dir / "state.json", run_dir / "last.keras"
    wanted = json.dumps(dataclasses.asdict(config), sort_keys=True)
    remove_stale_temp_files(run_dir)
    if state_file.is_file() and last.is_file():
        if _saved_config(config_file) != _cross_entropy_settings(dataclasses.asdict(config)):
            raise TrainingError(f"{run_dir}: this run folder was started with other settings; "
                                "choose another run folder or delete this one")
        _refuse_other_data(run_dir, fingerprint, vocab)
        resumed = _resume_from_checkpoints(run_dir, json.loads(state_file.read_text()), vocab, feature_dim, config)
        if resumed is not None:
            return resumed
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(config_file, wanted)
    write_text_atomically(run_dir / "vocab.json", vocab.to_json())
    write_text_atomically(run_dir / "data.json", json.dumps(fingerprint, indent=2))
    keras.utils.set_random_seed(config.seed)
    state = {"epoch": 0, "best_val_loss": float("inf"), "best_epoch": 0, "waited": 0,
             "stopped_early": False, "history": []}
    return _compiled_decoder(vocab, feature_dim, config), state


def train_decoder(dataset: Dataset, features_by_name: FeaturesByName, config: TrainConfig, run_dir: PathLike,
                  on_progress: Optional[ProgressCallback] = None, cancel: Optional[CancelFlag] = None,
                  mirrored_by_name: Optional[FeaturesByName] = None) -> TrainResult:
    """Train (or resume training) a decoder; raises Cancelled if `cancel` is set (checkpoints kept).

    With config.mirrored, `mirrored_by_name` holds the training photos' mirror-image features."""
    run_dir = Path(run_dir)
    strategy = training_strategy()
    replicas = strategy.num_replicas_in_sync
    # batch_size is per replica; the learning rate grows with the global batch (linear scaling rule).
    run_config = dataclasses.replace(config, batch_size=config.batch_size * replicas,
                                     learning_rate=config.learning_rate * replicas) if replicas > 1 else config
    vocab = build_vocabulary(dataset, config)
    train = caption_arrays(dataset.splits["train"], dataset, features_by_name, vocab)
    if config.mirrored:
        train = with_mirrored(train, dataset.splits["train"], features_by_name, mirrored_by_name or {})
    dev = caption_arrays(dataset.splits["dev"], dataset, features_by_name, vocab)
    feature_dim = _row_shape(train[0])[-1]
    with strategy.scope():  # variables (and so every replica's copy) are made here
        model, state = _start_or_resume(run_dir, vocab, feature_dim, run_config, dataset.fingerprint())
    steps = -(-len(train[1]) // run_config.batch_size)
    stop_on_cancel = StopOnCancel(cancel)
    callbacks = [ReportProgress(state, run_config, steps, on_progress), stop_on_cancel,
                 RunCheckpoint(run_dir, state, run_config, stop_on_cancel, on_progress)]
    if state["epoch"] < config.epochs and not state["stopped_early"]:
        model.fit(make_tf_dataset(train, run_config.batch_size, config.seed + state["epoch"]),
                  validation_data=make_tf_dataset(dev, run_config.batch_size),
                  epochs=config.epochs, initial_epoch=state["epoch"], callbacks=callbacks, verbose=0)
    if stop_on_cancel.cancelled:
        raise Cancelled()
    if replicas > 1:  # fine-tuning and saving run on one device, on a model outside the strategy
        model = _compiled_decoder(vocab, feature_dim, config)
    model.load_weights(run_dir / "best.weights.h5")
    fine_tuned = None
    if config.self_critical_epochs > 0:
        fine_tuned = _self_critical_stage(model, vocab, dataset, features_by_name, config, run_dir, state,
                                          on_progress, cancel)
    return TrainResult(model, vocab, state["history"], state["best_epoch"], fine_tuned, replicas)


def _self_critical_stage(model, vocab, dataset, features_by_name, config, run_dir, state, on_progress, cancel):
    """Fine-tune the best cross-entropy weights; a finished stage with the same settings is reused.
    A cancel leaves the cross-entropy checkpoints as they were (the stage starts over next time)."""

    settings = {"epochs": config.self_critical_epochs, "learning_rate": config.self_critical_lr,
                "human_weight": config.self_critical_human_weight}
    weights = run_dir / "self_critical.weights.h5"
    if weights.is_file() and state.get("self_critical", {}).get("settings") == settings:
        try:
            model.load_weights(weights)
            return state["self_critical"]
        except Exception as error:  # damaged: fine-tune again from the best cross-entropy weights
            set_aside(weights, error)
            model.load_weights(run_dir / "best.weights.h5")
    started = time.monotonic()
    rewards = fine_tune(model, vocab, dataset.splits["train"], features_by_name, dataset.captions,
                        config.self_critical_epochs, config.self_critical_lr, config.seed,
                        config.self_critical_human_weight, on_progress, cancel)
    replace_atomically(weights, model.save_weights, ".weights.h5")
    tenth = max(1, len(rewards) // 10)
    state["self_critical"] = {"settings": settings, "batches": len(rewards),
                              "reward_first_tenth": round(float(np.mean(rewards[:tenth])), 4),
                              "reward_last_tenth": round(float(np.mean(rewards[-tenth:])), 4),
                              "seconds": round(time.monotonic() - started, 1)}
    write_text_atomically(run_dir / "state.json", json.dumps(state, indent=2))
    return state["self_critical"]
