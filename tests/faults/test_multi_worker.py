"""Issue 24 N6: multi-worker training with an absent worker waited forever inside TensorFlow, and neither
Ctrl+C nor SIGTERM ended it (only kill -9). Real processes and real TensorFlow, on local ports."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

TRAIN = ["-m", "ml", "train", "--encoder", "efficientnet-lite0", "--max-train-photos", "30", "--epochs", "1"]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("localhost", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


def worker_env(ports: list[int], index: int, **extra: str) -> dict:
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    return dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                **extra)


def start_training(flickr8k, tmp_path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *TRAIN, "--data", str(flickr8k), "--output", str(tmp_path / "m.captioner"),
                             "--run-dir", str(tmp_path / "run")],
                            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def first_stderr_line(process: subprocess.Popen, seconds: float) -> str:
    """The process's first line on stderr, or "" if none came within `seconds` (the process is then killed)."""
    import selectors

    assert process.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        if selector.select(timeout=seconds):
            return process.stderr.readline()
    process.kill()
    return ""


def test_an_absent_worker_ends_the_wait_in_one_line(flickr8k, tmp_path):
    ports = free_ports(2)
    process = start_training(flickr8k, tmp_path, worker_env(ports, 0, IMAGE_CAPTIONER_PEER_WAIT_S="3"))
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    lines = stderr.strip().splitlines()
    assert process.returncode == 2, stderr[-2000:]
    assert lines[0].startswith("waiting up to 3 s for the other workers") and len(lines) == 2, lines
    assert lines[1].startswith("error: the other workers did not start within 3 s")
    assert f"no answer from localhost:{ports[1]}" in lines[1] and not (tmp_path / "m.captioner").exists()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_end_the_wait_for_workers(flickr8k, tmp_path, stop):
    process = start_training(flickr8k, tmp_path, worker_env(free_ports(2), 0))
    first_line = first_stderr_line(process, seconds=120)  # said once the wait has begun
    assert first_line.startswith("waiting up to 600 s for the other workers"), first_line
    process.send_signal(stop)
    started = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and time.monotonic() - started < 20, stderr[-2000:]
    assert stderr.startswith("interrupted")


def test_workers_started_in_turn_find_each_other():
    """The wait in Python must not keep the workers from meeting: the second starts 3 s after the first,
    and each ends with a strategy over both (2 replicas)."""
    ports = free_ports(2)
    code = ("from ml.training.distribute import prepare_devices, training_strategy\n"
            "prepare_devices()\nprint('replicas', training_strategy().num_replicas_in_sync, flush=True)")
    workers = []
    for index in range(2):
        workers.append(subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=worker_env(ports, index),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True))
        time.sleep(3)
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0 and stdout.strip() == "replicas 2", stderr[-2000:]
