"""Keras 3's `fit` under MultiWorkerMirroredStrategy, made to run (keras-team/keras#20585, open; Keras 3.15).

Two places in Keras's TensorFlow trainer fail when the strategy spans several workers:
- before the first epoch it averages a batch of the input over the workers to build the model symbolically,
  and the workers' reduction takes one tensor, not the dict of inputs a decoder has ("Attempt to convert a
  value ({'image': PerReplica...}) to a Tensor"). The decoder is built already, so that step is skipped: the
  model forgets the strategy it was made under, and `fit` runs inside `strategy.scope()`, which gives it back;
- after every step it averages each logged number over the workers along axis 0, which a scalar loss does not
  have ("Invalid reduction dimension 0 for input with 0 dimensions"). MultiWorkerDecoder logs them as vectors
  of one, whose mean along axis 0 is the same number, and Keras hands callbacks the metrics' own results.
"""
from __future__ import annotations

import re
from typing import Any, Optional

import keras

from ml.core.errors import TrainingError
from ml.training.distribute import own_task, task_address


@keras.saving.register_keras_serializable(package="image_captioner")
class MultiWorkerDecoder(keras.Model):
    """A decoder whose train and test steps log their numbers as vectors of one when the strategy spans
    several workers (and exactly as Keras does otherwise, so a run resumed on one machine is unchanged)."""

    def train_step(self, data: Any) -> dict:
        return _as_vectors(super().train_step(data), self.distribute_strategy)

    def test_step(self, data: Any) -> dict:
        return _as_vectors(super().test_step(data), self.distribute_strategy)


def _as_vectors(logs: dict, strategy: Any) -> dict:
    if not spans_workers(strategy):
        return logs
    import tensorflow as tf

    return {name: tf.reshape(value, (1,)) for name, value in logs.items()}


def spans_workers(strategy: Any) -> bool:
    """Whether the strategy's replicas are in several worker processes (MultiWorkerMirroredStrategy)."""
    extended = getattr(strategy, "extended", None)
    return bool(getattr(extended, "_in_multi_worker_mode", lambda: False)())


def for_multi_worker(model: keras.Model) -> keras.Model:
    """The same layers and weights as a MultiWorkerDecoder, compiled with the model's optimizer and loss, and
    without the strategy it was made under (see the module docstring); call inside the strategy's scope."""
    decoder = model if isinstance(model, MultiWorkerDecoder) else MultiWorkerDecoder(
        inputs=model.inputs, outputs=model.outputs, name=model.name)
    if decoder is not model:
        decoder.compile(optimizer=model.optimizer, loss=model.loss)
    decoder._distribute_strategy = None  # keras-team/keras#20585: fit runs inside strategy.scope() instead
    return decoder


def worker_lost(error: BaseException, run_dir: Any) -> Optional[TrainingError]:
    """The one line to end with when TensorFlow stopped training because another worker stopped (its
    collective ops fail once that worker's heartbeats stop, about 10 s after: no hang), or None for any other
    error. It names the worker by its TF_CONFIG address where TensorFlow's message names another task than this one."""
    import tensorflow as tf

    if not isinstance(error, (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError)):
        return None
    own = own_task()
    others = [(job, int(index)) for job, index in re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", str(error))
              if (job, int(index)) != own]
    who = "another worker"  # TensorFlow's message does not always say which
    if others:
        address = task_address(*others[0])
        who = f"the worker at {address}" if address else f"{others[0][0]} {others[0][1]}"
    return TrainingError(f"{who} stopped during training, so this worker stopped too; the finished epochs are kept "
                         f"in {run_dir}: start the same command on every machine again to go on from them")
