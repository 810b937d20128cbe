"""Figures of the packaged app as built by scripts/build.sh (run under a DISPLAY, e.g. Xvfb):

    scripts/build.sh && .venv/bin/python benchmarks/bench_packaged.py

For each build in dist/: folder and archive size, start with a photo to window shown (found by title
with xdotool), to ready to caption and to the photo's caption shown (both from the app's log), a
speech process writing a caption's WAV (what starts every Speak), and --self-test. Medians of 3 starts.
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "assets" / "samples" / "coffee.jpg"
SENTENCE = "a brown and white dog is running through the grass"


def start_figures(executable, env, log):
    """Seconds from start to: window shown, ready to caption, the photo's caption shown."""
    log.unlink(missing_ok=True)
    started = time.monotonic()
    app = subprocess.Popen([executable, str(PHOTO)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    figures: dict[str, float] = {}
    try:
        while len(figures) < 3 and time.monotonic() - started < 120:
            now = time.monotonic() - started
            if "window" not in figures and subprocess.run(["xdotool", "search", "--name", "^Image Captioner$"],
                                                          capture_output=True).returncode == 0:
                figures["window"] = now
            text = log.read_text() if log.is_file() else ""
            if "ready" not in figures and "ready to caption" in text:
                figures["ready"] = now
            if "caption" not in figures and f"caption shown: {PHOTO.name}" in text:
                figures["caption"] = now
            time.sleep(0.01)
    finally:
        app.terminate()
        app.wait(timeout=30)
    return figures


def timed(command, env):
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=3, help="timed starts per build (after one untimed)")
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="the folder scripts/build.sh fills")
    args = parser.parse_args()
    for folder in sorted(p for p in args.dist.iterdir() if p.is_dir()):
        executable = folder / folder.name
        archives = list(args.dist.glob(f"{folder.name}-[0-9]*.tar.xz"))
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20
        print(f"{folder.name}: folder {size:.0f} MiB, archive "
              f"{archives[0].stat().st_size / 2**20:.0f} MiB" if archives else "no archive")
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch, "config")
            config.mkdir()
            (config / "settings.json").write_text('{"auto_speak": false}')
            env = dict(os.environ, IMAGE_CAPTIONER_CONFIG_DIR=str(config), IMAGE_CAPTIONER_DATA_DIR=str(Path(scratch, "data")))
            runs = [start_figures(executable, env, config / "logs" / "app.log") for _ in range(args.starts + 1)][1:]  # first: disk cache
            for name in ("window", "ready", "caption"):
                values = [run[name] for run in runs if name in run]
                print(f"  start with a photo to {name}: {statistics.median(values):.2f} s "
                      f"({min(values):.2f}-{max(values):.2f}, {len(values)} runs)" if values else f"  {name}: not seen")
            speech = [timed([executable, "--speech-worker", "--text", SENTENCE, "--wav", str(Path(scratch, "s.wav"))], env)
                      for _ in range(args.starts)]
            print(f"  speech process writing a caption's WAV: {statistics.median(speech):.2f} s")
            print(f"  --self-test: {timed([executable, '--self-test'], env):.1f} s")


if __name__ == "__main__":
    main()
