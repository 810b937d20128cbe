"""Every benchmark runs to its end at toy size, so none can break unseen (one did: bench_pipeline read an
attribute that had been renamed). The figures a toy run prints mean nothing; each test checks that the
script exits 0 and prints the lines its full run's figures are read from (docs/benchmarks.md)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = str(REPO / "assets" / "models" / "default.captioner")


def run_benchmark(name: str, *args: str, timeout: int = 600) -> str:
    """The benchmark's stdout; fails with its stderr's end when it does not exit 0."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / name), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_bench_pipeline(flickr8k):
    out = run_benchmark("bench_pipeline.py", "--data", str(flickr8k), "--photos", "8", "--decode-photos", "2",
                        "--captions", "64", "--train-photos", "20")
    assert out.count("features efficientnet") == 2 and "features xception" in out
    assert "decoding beam 5:" in out and "speed-up" in out


def test_bench_honesty(flickr8k):
    out = run_benchmark("bench_honesty.py", "--data", str(flickr8k), "--photos", "30", "--timing-photos", "10")
    assert "out-of-domain photos: 22" in out and "Flickr8k dev (30 photos" in out and "Flickr8k test (30 photos" in out
    assert "caption time per photo" in out and "heatmaps of every word" in out


def test_bench_open_vocabulary(flickr8k):
    out = run_benchmark("bench_open_vocabulary.py", "--data", str(flickr8k), "--photos", "20", "--half", "tuning")
    assert "subject named, ImageNet subjects" in out and "people or dogs invented" in out and "BLEU-4" in out


def test_bench_people_probe(tmp_path):
    """Without the ImageNet samples (not here), the tuning half's part; the old probe given as the shipped one."""
    old = tmp_path / "old.npz"
    old.write_bytes((REPO / "assets" / "encoders" / "efficientnet-lite2-people.npz").read_bytes())
    out = run_benchmark("bench_people_probe.py", "--old-probe", str(old))
    assert "shipped  probe: mean with people" in out and "old      probe: mean with people" in out


def test_sweep_decoding(flickr8k):
    out = run_benchmark("sweep_decoding.py", "--model", SHIPPED, "--data", str(flickr8k), "--photos", "4", "--beams", "1", "2")
    assert out.count('"bleu4"') == 2


def test_bench_training_memory():
    out = run_benchmark("bench_training_memory.py", "--sizes", "100", "200", "--steps", "3")
    assert "features from a FeatureTable (train_model)" in out and "features in memory (baseline)" in out


def test_bench_distribute(flickr8k):
    out = run_benchmark("bench_distribute.py", "--data", str(flickr8k), "--photos", "40", "--epochs", "1")
    assert "1 logical CPU device(s), 1 replica(s)" in out and "2 logical CPU device(s), 2 replica(s)" in out


def test_bench_small_runs(flickr8k):
    out = run_benchmark("bench_small_runs.py", "--data", str(flickr8k), "--sizes", "20")
    assert "20 training photos" in out and "BLEU-4" in out


def test_bench_faults(flickr8k):
    out = run_benchmark("bench_faults.py", "--data", str(flickr8k))
    assert out.count("peak") == out.count("outcome") == 7  # every case's peak memory, with how it ended
    assert "more than a caption file holds" in out and "4 GiB" in out  # the input-growth cases (issue 24 N14)
    assert "too large" in out and "rc 0" in out


def test_bench_caption_path(flickr8k, display):
    # The baseline is this checkout's own last commit: the script's paths all run, minutes of TensorFlow starts
    # are saved (the full run compares with 5d060a4, whose caption path loaded TensorFlow).
    out = run_benchmark("bench_caption_path.py", "--data", str(flickr8k), "--photos", "64", "--dev-photos", "4",
                        "--baseline", "HEAD")
    assert "baseline HEAD" in out and "64 photos:" in out and "app launch to ready" in out
    assert "equal captions: 4 of 4" in out


def test_bench_app(flickr8k, display, tmp_path):
    out = run_benchmark("bench_app.py", "--data", str(flickr8k), "--train-photos", "60", "--seconds", "1",
                        "--folder-photos", "12")
    assert "Folder page, Caption all on 12" in out and "first caption from a cold start" in out and "next caption" in out
    assert out.count("UI timer lateness") == 3



def test_bench_batch_captioning(flickr8k):
    out = run_benchmark("bench_batch_captioning.py", "--data", str(flickr8k), "--photos", "8", "--cli-photos", "8")
    assert "same caption for 8 and 8 of 8" in out and "same caption as 31b1615 for 8 of 8" in out and "photos/s" in out
