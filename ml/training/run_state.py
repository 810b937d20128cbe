"""A run folder's state, so a run resumed by a new process (after a cancel, a crash or Ctrl+C) goes on
exactly as if it had not stopped: its settings and data are checked against the folder's, the last or best
checkpoint is taken (a damaged one is set aside), or the run starts afresh. Files in the folder: config.json,
vocab.json, data.json, state.json (epoch, history, best), last.keras, best.weights.h5."""
from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Optional

import keras

from ml.core import defaults
from ml.core.atomic import remove_stale_temp_files, replace_atomically, set_aside, write_text_atomically
from ml.core.errors import TrainingError
from ml.data.vocab import Vocabulary
from ml.decoders.keras_models import build_decoder
from ml.training.config import TrainConfig
from ml.training.multi_worker import MultiWorkerDecoder  # noqa: F401 - registered: a multi-worker run's last.keras holds one
from ml.training.sampled_softmax import SampledSoftmaxDecoder  # noqa: F401 - registered: a run's last.keras holds one

# Settings added after runs were first saved, with the value those older runs used.
SETTINGS_OF_OLDER_RUNS = {"lr_decay": 1.0, "sampled_words": 0, "mirrored": False, "self_critical_epochs": 0.0,
                          "self_critical_lr": defaults.SELF_CRITICAL_LR, "self_critical_human_weight": 0.0}
# Settings of the fine-tuning stage only: changing them reuses the cross-entropy run as it is.
FINE_TUNING_SETTINGS = ("self_critical_epochs", "self_critical_lr", "self_critical_human_weight")


def compiled_decoder(vocab: Vocabulary, feature_dim: int, config: TrainConfig) -> keras.Model:
    """A new decoder of the run's settings, compiled for training (Adam with clipped gradients, masked loss)."""
    model = build_decoder(config.decoder, len(vocab), feature_dim, config.units, config.dropout)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    return model


def load_checkpoint(model: keras.Model, path: Path) -> None:
    """Load a checkpoint's weights and its optimizer state (Adam's moments): the optimizer's variables are
    made first, or Keras skips the saved ones with a warning and a resumed run starts its moments afresh."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(path)


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


# What reading a damaged checkpoint raises: h5py's OSError and KeyError for a cut or foreign HDF5 file, zipfile's
# error and EOFError for a cut .keras archive, ValueError (JSON included) for a damaged config. Anything else
# (a TypeError or AttributeError from the code that loads it) is a bug: raised, so finished epochs are never
# set aside because of one.
DAMAGED_CHECKPOINT = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile)


def _readable_weights(path: Path, vocab: Vocabulary, feature_dim: int, config: TrainConfig):
    """A compiled decoder holding the weights in `path`, or None (the file set aside) if they cannot be read."""
    model = compiled_decoder(vocab, feature_dim, config)
    try:
        load_checkpoint(model, path)
    except DAMAGED_CHECKPOINT as error:
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
    except DAMAGED_CHECKPOINT as error:
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


def start_or_resume(run_dir: Path, vocab: Vocabulary, feature_dim: int, config: TrainConfig,
                    fingerprint: dict) -> tuple[keras.Model, dict]:
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
    return compiled_decoder(vocab, feature_dim, config), state
