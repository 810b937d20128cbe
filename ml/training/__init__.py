"""Training a model, from a data set folder to a calibrated model file.

config         TrainConfig: what decides a run, checked when made (light: the app checks its form with it)
runs           run folders a restart left unfinished (light: the app lists them at start)
distribute     the tf.distribute strategy, chosen when a run starts
multi_worker   Keras's fit made to run across machines (keras-team/keras#20585), a lost worker said in one line
sampled_softmax  a training step whose loss compares each true word with a sample of words (an option, off by default)
loop           the Keras training loop: arrays, tf.data, callbacks, checkpoints, resume (TensorFlow)
self_critical  self-critical fine-tuning after cross-entropy training (TensorFlow)
pipeline       whole jobs: data set -> features -> trained, evaluated, calibrated model; evaluate; compare
Only config and runs are imported here; the rest by name, so nothing loads TensorFlow before a run starts.
"""
from ml.training.config import TrainConfig
from ml.training.runs import unfinished_runs

__all__ = ["TrainConfig", "unfinished_runs"]
