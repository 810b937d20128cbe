"""Which tf.distribute strategy a training run uses, chosen once when it starts (TensorFlow's own engine
for data-parallel training; nothing here is home-made):

- `TF_CONFIG` names a cluster of several workers: MultiWorkerMirroredStrategy (one process per machine,
  each started with its own TF_CONFIG; see docs/training.md, "Training on several GPUs or machines");
- several GPUs: MirroredStrategy over all of them;
- `IMAGE_CAPTIONER_CPU_DEVICES=N` (N >= 2): the CPU split into N logical devices and MirroredStrategy over
  them, so the multi-replica path runs on any machine (the tests use it; it is not faster on a CPU);
- otherwise TensorFlow's default strategy (one device), exactly as before.

Batches: `batch_size` is per replica, so the global batch is batch_size x replicas, and the learning rate
is scaled by the number of replicas (the linear scaling rule, Goyal et al. 2017); one replica changes
nothing.
"""
from __future__ import annotations

import json
import os
from typing import Any

from ml.core.errors import TrainingError

CPU_DEVICES_VARIABLE = "IMAGE_CAPTIONER_CPU_DEVICES"


def _cluster_workers() -> int:
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except (json.JSONDecodeError, AttributeError):
        raise TrainingError("TF_CONFIG is not valid JSON (see docs/training.md: Training on several GPUs or machines)") from None
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _cpu_devices_wanted() -> int:
    text = os.environ.get(CPU_DEVICES_VARIABLE, "")
    if text and (not text.isdigit() or int(text) < 1):
        raise TrainingError(f"{CPU_DEVICES_VARIABLE} must be a whole number of devices, not {text!r}")
    return int(text or 1)


def prepare_devices() -> None:
    """Split the CPU into IMAGE_CAPTIONER_CPU_DEVICES logical devices, where asked; TensorFlow allows it only
    before it starts its devices, so `python -m ml train` calls this first thing."""
    count = _cpu_devices_wanted()
    if count < 2:
        return
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # already started: fine if it has these devices, said below if not
        pass


def training_strategy() -> Any:
    """The strategy for this process's training run (see the module docstring)."""
    import tensorflow as tf

    if _cluster_workers() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    cpu_devices = _cpu_devices_wanted()
    if cpu_devices > 1:
        prepare_devices()
        logical = [device.name for device in tf.config.list_logical_devices("CPU")]
        if len(logical) != cpu_devices:
            raise TrainingError(f"{CPU_DEVICES_VARIABLE}={cpu_devices}: TensorFlow had started with {len(logical)} "
                                "CPU device(s) before training; set it for a new process ('python -m ml train')")
        return tf.distribute.MirroredStrategy(logical)
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
