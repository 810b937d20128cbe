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
# The most logical CPU devices asked for (TensorFlow took minutes, then hung, making 99,999).
MAX_CPU_DEVICES = 64
TF_CONFIG_HELP = "see docs/training.md, 'Training on several GPUs or machines'"


def _cluster_workers() -> int:
    """Workers (and chief) that TF_CONFIG names; 0 without it. A TF_CONFIG of another shape is one line."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except json.JSONDecodeError:
        raise TrainingError(f"TF_CONFIG is not valid JSON ({TF_CONFIG_HELP})") from None
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    if not isinstance(cluster, dict):
        raise TrainingError(f"TF_CONFIG must be an object with a \"cluster\" object ({TF_CONFIG_HELP})")
    count = 0
    for role in ("worker", "chief"):
        addresses = cluster.get(role, [])
        if not isinstance(addresses, list) or not all(isinstance(a, str) and ":" in a for a in addresses):
            raise TrainingError(f"TF_CONFIG: cluster.{role} must be a list of \"host:port\" addresses ({TF_CONFIG_HELP})")
        count += len(addresses)
    return count


def _cpu_devices_wanted() -> int:
    text = os.environ.get(CPU_DEVICES_VARIABLE, "")
    if text and (not text.isdigit() or not 1 <= int(text) <= MAX_CPU_DEVICES):
        raise TrainingError(f"{CPU_DEVICES_VARIABLE} must be a whole number of devices from 1 to {MAX_CPU_DEVICES}, "
                            f"not {text!r}")
    return int(text or 1)


def prepare_devices() -> None:
    """Check the distribution settings (TF_CONFIG, IMAGE_CAPTIONER_CPU_DEVICES) before any work, and split the
    CPU into logical devices where asked: TensorFlow allows it only before it starts its devices, so
    `python -m ml train` calls this first thing."""
    _cluster_workers()
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
