"""Issue 24 N6: multi-worker training with an absent worker waited forever inside TensorFlow, and neither
Ctrl+C nor SIGTERM ended it (only kill -9). Issue 27 item 3: two workers train a model that captions (Keras's
fit failed at the first batch under MultiWorkerMirroredStrategy), and a worker killed mid-run ends the other in
one line. Real processes and real TensorFlow, on local ports (TF_CONFIG), as on two machines."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile
from typing import Sequence

import pytest

from tests.conftest import REPO, as_from_a_terminal

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


def start_training(flickr8k, tmp_path, env: dict, train: Sequence[str] = TRAIN, name: str = "m") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *train, "--data", str(flickr8k), "--output", str(tmp_path / f"{name}.captioner"),
                             "--run-dir", str(tmp_path / f"run-{name}")],
                            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal)



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
    except subprocess.TimeoutExpired:
        # Once in CI (1 run of many) it did not end: SIGABRT makes faulthandler print where each thread was
        process.send_signal(signal.SIGABRT)
        _, stderr = process.communicate(timeout=30)
        threads = stderr.split("Extension modules")[0][-6000:]
        raise AssertionError(f"still running 60 s after {stop.name}; its threads:\n{threads}") from None
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


def test_two_workers_train_a_model_that_captions(flickr8k, tmp_path):
    """Each worker trains on its half of every global batch and ends with the same weights: the same losses
    every epoch, the same model card figures, 2 replicas recorded; the model captions a photo."""
    ports = free_ports(2)
    train = [*TRAIN[:-3], "60", "--epochs", "2", "--self-critical-epochs", "0"]
    workers = [start_training(flickr8k, tmp_path, worker_env(ports, index), train, f"worker{index}") for index in range(2)]
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr[-3000:]
    cards = [json.loads(zipfile.ZipFile(tmp_path / f"worker{index}.captioner").read("card.json")) for index in range(2)]
    losses = [[(epoch["loss"], epoch["val_loss"]) for epoch in card["history"]] for card in cards]
    assert cards[0]["training"]["replicas"] == 2 and len(losses[0]) == 2 and losses[0] == losses[1]
    caption = subprocess.run([sys.executable, "-m", "ml", "caption", "--beam", "3", "--model", str(tmp_path / "worker0.captioner"),
                              str(REPO / "assets" / "samples" / "cat.jpg")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert caption.returncode == 0 and caption.stdout.split("\t")[1].strip(), caption.stderr[-2000:]


def test_a_worker_killed_mid_run_ends_the_other_in_one_line(flickr8k, tmp_path):
    """Killed after the first epoch, the other worker's next collective step fails once the killed worker's
    heartbeats stop: one line naming that worker and where the finished epochs are, exit 2, no hang."""
    ports = free_ports(2)
    train = [*TRAIN[:-3], "300", "--epochs", "20"]
    workers = [start_training(flickr8k, tmp_path, worker_env(ports, index), train, f"worker{index}") for index in range(2)]
    try:
        assert workers[0].stderr is not None
        for line in workers[0].stderr:
            if line.startswith("epoch 1/20"):
                break
        workers[1].kill()
        killed = time.monotonic()
        _, stderr = workers[0].communicate(timeout=120)
    finally:
        for worker in workers:
            worker.kill()
    errors = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert workers[0].returncode == 2 and time.monotonic() - killed < 60, stderr[-3000:]
    # TensorFlow's message names the lost task in some runs only: then the line says "another worker".
    assert len(errors) == 1 and re.fullmatch(
        f"error: (the worker at localhost:{ports[1]}|another worker) stopped during training, so this worker stopped "
        f"too; the finished epochs are kept in {re.escape(str(tmp_path / 'run-worker0'))}: start the same command on "
        "every machine again to go on from them", errors[0]), stderr[-3000:]
