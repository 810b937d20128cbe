"""Which tf.distribute strategy a training run uses, chosen once when it starts (TensorFlow's own engine
for data-parallel training; nothing here is home-made):

- `TF_CONFIG` names a cluster of several workers: MultiWorkerMirroredStrategy (one process per machine,
  each started with its own TF_CONFIG; see docs/training.md, "Training on several GPUs or machines"). It
  must be made before TensorFlow runs anything, so `prepare_devices` makes it, after waiting (Ctrl+C and
  SIGTERM stop the wait) until every other worker answers: after IMAGE_CAPTIONER_PEER_WAIT_S seconds
  (default 600) one line names the workers that never answered;
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
import logging
import os
import signal
import socket
import time
from typing import Any, Optional

from ml.core.errors import TrainingError

CPU_DEVICES_VARIABLE = "IMAGE_CAPTIONER_CPU_DEVICES"
# The most logical CPU devices asked for (TensorFlow took minutes, then hung, making 99,999).
MAX_CPU_DEVICES = 64
TF_CONFIG_HELP = "see docs/training.md, 'Training on several GPUs or machines'"
PEER_WAIT_VARIABLE = "IMAGE_CAPTIONER_PEER_WAIT_S"
DEFAULT_PEER_WAIT_S = 600  # long enough to start the same command on the other machines by hand
SAY_WAITING_AFTER_S = 3

log = logging.getLogger(__name__)
_multi_worker_strategy: Optional[Any] = None  # made by prepare_devices, used by training_strategy


def _cluster_workers() -> int:
    """Workers (and chief) that TF_CONFIG names; 0 without it. A TF_CONFIG of another shape is one line."""
    return len(_cluster_addresses())


def _cluster_addresses() -> list[str]:
    """The "host:port" of every worker (and chief) TF_CONFIG names, this one's included."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except json.JSONDecodeError:
        raise TrainingError(f"TF_CONFIG is not valid JSON ({TF_CONFIG_HELP})") from None
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    if not isinstance(cluster, dict):
        raise TrainingError(f"TF_CONFIG must be an object with a \"cluster\" object ({TF_CONFIG_HELP})")
    everyone = []
    for role in ("chief", "worker"):
        addresses = cluster.get(role, [])
        if not isinstance(addresses, list) or not all(isinstance(a, str) and ":" in a for a in addresses):
            raise TrainingError(f"TF_CONFIG: cluster.{role} must be a list of \"host:port\" addresses ({TF_CONFIG_HELP})")
        everyone += addresses
    return everyone


def own_task() -> tuple[Optional[str], Optional[int]]:
    """This process's (job, index) in TF_CONFIG, (None, None) where it names none."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {}) if isinstance(config, dict) else {}
    try:
        return task["type"], int(task["index"])
    except (KeyError, TypeError, ValueError):
        return None, None


def task_address(job: Optional[str], index: Optional[int]) -> Optional[str]:
    """The "host:port" TF_CONFIG gives a task, or None where it gives none."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    try:
        return config["cluster"][job][index]
    except (KeyError, IndexError, TypeError):
        return None


def _own_address() -> Optional[str]:
    return task_address(*own_task())


def _peer_wait_s() -> float:
    text = os.environ.get(PEER_WAIT_VARIABLE, "")
    if text and (not text.isdigit() or int(text) < 1):
        raise TrainingError(f"{PEER_WAIT_VARIABLE} must be a whole number of seconds above 0, not {text!r}")
    return float(text or DEFAULT_PEER_WAIT_S)


def _answers(address: str) -> bool:
    """Whether something listens at host:port (a worker that has started)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
            return True
    except (OSError, ValueError):
        return False


def _silent_peers() -> list[str]:
    own = _own_address()
    return [address for address in _cluster_addresses() if address != own and not _answers(address)]


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt()


def _wait_for_peers(wait_s: float) -> None:
    """Wait, in Python, until every other worker answers at its TF_CONFIG address, answering at this one's
    meanwhile (so workers started in any order find each other); Ctrl+C and SIGTERM stop the wait, and
    after `wait_s` one line names the workers that never answered."""
    own = _own_address()
    if own is None:
        raise TrainingError(f"TF_CONFIG: task must name this worker's type and index in the cluster ({TF_CONFIG_HELP})")
    try:
        listener = socket.create_server(("", int(own.rpartition(":")[2])))
    except (OSError, ValueError) as error:
        raise TrainingError(f"TF_CONFIG: cannot listen at {own}, this worker's address ({error})") from None
    deadline, said = time.monotonic() + wait_s, False
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with listener:
            listener.settimeout(0.5)
            while silent := _silent_peers():
                if time.monotonic() > deadline:
                    raise TrainingError(f"the other workers did not start within {wait_s:.0f} s (no answer from "
                                        f"{', '.join(silent)}): start the same command on every machine TF_CONFIG "
                                        f"names ({PEER_WAIT_VARIABLE} sets the wait)")
                if not said:
                    log.info("waiting up to %d s for the other workers to start (no answer yet from %s; Ctrl+C stops)",
                             wait_s, ", ".join(silent))
                    said = True
                try:
                    listener.accept()[0].close()  # a peer looking for this one
                except TimeoutError:
                    pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _make_multi_worker_strategy() -> Any:
    """MultiWorkerMirroredStrategy (see the module docstring). TensorFlow's own wait for the other workers
    holds Python (no Python signal handler runs) and took SIGTERM for its preemption notice, so it never
    ended: the workers first find each other in Python (_wait_for_peers), TensorFlow's wait gets the same
    deadline, Ctrl+C ends the process during it, and SIGTERM stops training again once it is made."""
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf.coordination_config_pb2 import CoordinatedJob
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    wait_s = _peer_wait_s()
    _wait_for_peers(wait_s)
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    cluster = resolver.cluster_spec()
    # TensorFlow's settings, as MultiWorkerMirroredStrategy makes them, plus a deadline for joining:
    # without the barrier the first worker waited for the others with no deadline at all.
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(cluster),
        coordinated_jobs=[CoordinatedJob(name=job, num_tasks=cluster.num_tasks(job))
                          for job in ("chief", "worker") if job in cluster.jobs],
        cluster_register_timeout_in_ms=int(wait_s * 1000))
    context.context().coordination_service.cluster_register_with_barrier = True
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError):
        raise TrainingError(f"the other workers did not join within {wait_s:.0f} s (a worker stopped while they "
                            "met?): start the same command again on every machine TF_CONFIG names") from None
    finally:
        signal.signal(signal.SIGINT, previous)
    signal.signal(signal.SIGTERM, _interrupt)  # TensorFlow's preemption notice took it; stop as Ctrl+C does
    return strategy


def _cpu_devices_wanted() -> int:
    text = os.environ.get(CPU_DEVICES_VARIABLE, "")
    if text and (not text.isdigit() or not 1 <= int(text) <= MAX_CPU_DEVICES):
        raise TrainingError(f"{CPU_DEVICES_VARIABLE} must be a whole number of devices from 1 to {MAX_CPU_DEVICES}, "
                            f"not {text!r}")
    return int(text or 1)


def prepare_devices() -> None:
    """Check the distribution settings (TF_CONFIG, IMAGE_CAPTIONER_CPU_DEVICES) before any work, and split the
    CPU into logical devices or join the other workers where asked: TensorFlow allows both only before it
    starts its devices, so `python -m ml train` calls this first thing."""
    global _multi_worker_strategy
    _peer_wait_s()
    if _cluster_workers() > 1:
        if _multi_worker_strategy is None:
            _multi_worker_strategy = _make_multi_worker_strategy()
        return
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
        if _multi_worker_strategy is None:
            raise TrainingError("TF_CONFIG names several workers: train with 'python -m ml train' on each machine "
                                f"(the workers must join before TensorFlow starts; {TF_CONFIG_HELP})")
        return _multi_worker_strategy
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
