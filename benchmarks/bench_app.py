"""Desktop app figures on this machine (run under a DISPLAY, e.g. Xvfb):

    .venv/bin/python benchmarks/bench_app.py [--data ../shared/flickr8k] [--folder-photos 200] [--only-folder]

- the Folder page's Caption all, photos/s, beside the CLI on the same folder;
- launch to window visible (a fresh process, as a user's double-click starts one);
- first caption from a cold start (process start to caption shown: TensorFlow, model, encoder);
- next caption (other photos, same process: the median of six);
- UI event-loop latency while a training job runs on a worker (its epochs, then its self-critical
  fine-tuning, whose caption scoring is pure Python): how late a 20 ms timer fires, against the same
  timer with the app idle, measured in the same run.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import time, sys
start = time.monotonic()
from app.application import App
from app.constants import Page
app = App()
from app.event_loop import run_until
run_until(app.update, app.winfo_viewable, interval=0)
print("visible", time.monotonic() - start, flush=True)
app.caption.open_photo(sys.argv[1])
view = app.pages[Page.CAPTION]
run_until(app.update, lambda: app.caption.captioner and app.caption.photo_path, 300, interval=0.005)
app.caption.caption()
run_until(app.update, view.get_caption, interval=0.005)
print("first", time.monotonic() - start, flush=True)
seconds = []
for photo in sys.argv[2:] * 2:  # one caption's time varied 109-168 ms between runs: take a median
    app.caption.open_photo(photo)
    run_until(app.update, lambda: app.caption.photo_path.name == photo.split("/")[-1], interval=0.005)
    view.set_caption("")
    t = time.monotonic()
    app.caption.caption()
    run_until(app.update, view.get_caption, interval=0.005)
    seconds.append(time.monotonic() - t)
print("next", sorted(seconds)[len(seconds) // 2], flush=True)
print("beam", view.get_beam_width(), flush=True)
app.close()
"""


FOLDER_CHILD = """
import sys, time
from app.application import App
from app.event_loop import run_until
app = App()
run_until(app.update, app.winfo_viewable, interval=0)
run_until(app.update, lambda: app.caption.captioner, 300, interval=0.005)
app.folder.choose_folder(sys.argv[1])
run_until(app.update, lambda: len(app.folder.paths) == int(sys.argv[2]), 300, interval=0.005)
start = time.monotonic()
app.folder.caption_all()
run_until(app.update, lambda: len(app.folder.captions.rows) == int(sys.argv[2]), 600, interval=0.005)
print(int(sys.argv[2]) / (time.monotonic() - start), flush=True)
app.close()
"""


def folder_figures(data, count, env):
    """Photos/s of the Folder page's Caption all on `count` Flickr8k dev photos (model loaded first), beside
    `python -m ml caption` on the same folder (its whole run) in the same run."""
    import tempfile

    names = (data / "Flickr8k_text" / "Flickr_8k.devImages.txt").read_text().split()[:count]
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            Path(scratch, name).symlink_to(data / "Flicker8k_Dataset" / name)
        page = subprocess.run([sys.executable, "-c", FOLDER_CHILD, scratch, str(count)], cwd=REPO, env=env,
                              capture_output=True, text=True, check=True)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "ml", "caption", "--beam", "5", "--jsonl", scratch], cwd=REPO, env=env,
                       capture_output=True, check=True)
        cli = count / (time.monotonic() - started)
    print(f"Folder page, Caption all on {count} Flickr8k dev photos (beam 5): {float(page.stdout.split()[-1]):.1f} "
          f"photos/s; python -m ml caption on the same folder, whole run: {cli:.1f} photos/s")


def launch_figures(photos, env):
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", CHILD, *map(str, photos)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    figures = {}
    assert process.stdout is not None  # stdout=PIPE
    for line in process.stdout:
        name, seconds = line.split()
        figures[name] = time.monotonic() - start if name in ("visible", "first") else float(seconds)
    process.wait()
    print(f"launch to window visible: {figures['visible']:.2f} s (includes Python start)")
    print(f"first caption from a cold start: {figures['first']:.2f} s")
    print(f"next caption: {figures['next'] * 1000:.0f} ms, median of 6 (beam {figures['beam']:.0f}, the app's default; "
          "includes the photo's encoder pass)")


def timer_lateness(app, seconds, interval_ms=20):
    """How late after() callbacks fire, in ms, over `seconds` of running the event loop."""
    late, expected = [], [time.monotonic() + interval_ms / 1000]
    deadline = time.monotonic() + seconds

    def tick():
        now = time.monotonic()
        late.append((now - expected[0]) * 1000)
        expected[0] = now + interval_ms / 1000
        if now < deadline:  # one chain of timers per measurement, ending with it
            app.after(interval_ms, tick)

    app.after(interval_ms, tick)
    while time.monotonic() < deadline:
        app.update()
        time.sleep(0.001)
    return late


def latency_figures(data, train_photos=1500, seconds=10.0):
    from app.application import App
    from app.constants import Page
    from app.event_loop import run_until

    app = App()
    run_until(app.update, lambda: app.caption.captioner is not None, 900, interval=0.01)
    idle = timer_lateness(app, seconds / 2)
    view = app.pages[Page.TRAIN]
    app.train.choose_dataset(data)
    run_until(app.update, lambda: app.train.dataset_folder is not None, 900, interval=0.01)
    view.set_encoder("efficientnet-lite0")
    view.set_field("epochs", 3)
    view.set_field("max_train_photos", train_photos)
    app.dialogs.confirm = lambda title, question: True  # type: ignore[method-assign]  # a toy run: the user answers Yes to "fewer than 600 photos"
    app.train.start()
    run_until(app.update, lambda: app.train.epochs, 900, interval=0.01)  # measure while epochs run, not while features are extracted
    busy = timer_lateness(app, seconds)
    run_until(app.update, lambda: "Step 3" in view.phase_label.cget("text"), 900, interval=0.01)
    fine_tuning = timer_lateness(app, seconds / 2)
    app.train.cancel_training()
    app.close()
    for label, values in (("idle", idle), ("while training", busy), ("while fine-tuning", fine_tuning)):
        values = sorted(values)
        print(f"UI timer lateness {label:17s} median {statistics.median(values):5.1f} ms  "
              f"p95 {values[int(0.95 * len(values))]:5.1f} ms  max {values[-1]:5.1f} ms  ({len(values)} ticks)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--train-photos", type=int, default=1500, help="training photos of the run timed beside the UI")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of timer ticks while training runs")
    parser.add_argument("--folder-photos", type=int, default=200, help="photos the Folder page captions")
    parser.add_argument("--only-folder", action="store_true", help="print the Folder page's figure only")
    args = parser.parse_args()
    from app.paths import use_scratch_user_folders

    use_scratch_user_folders(keep_data_dir=True)  # converted encoder weights are reused, not timed
    from app.paths import user_config_dir

    # Speech is not timed here, and on a machine without a sound device the first spoken caption asks
    # whether to turn Auto-speak off (a dialog nobody answers in a benchmark).
    user_config_dir().mkdir(parents=True, exist_ok=True)
    (user_config_dir() / "settings.json").write_text('{"auto_speak": false}')
    env = dict(os.environ)
    samples = REPO / "assets" / "samples"
    folder_figures(args.data, args.folder_photos, env)
    if args.only_folder:
        return
    launch_figures([samples / name for name in ("astronaut.jpg", "cat.jpg", "coffee.jpg", "rocket.jpg")], env)
    latency_figures(args.data, args.train_photos, args.seconds)


if __name__ == "__main__":
    main()
