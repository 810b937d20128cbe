"""`ImageCaptioner --self-test`: the packaged app checks itself with no display and no user files.

It captions a bundled sample photo with the shipped model, synthesises the caption's speech to a WAV
file through the speech worker (the same executable, as the app does), writes the caption into a copy of
the photo's metadata and reads it back, and, where the build has
TensorFlow, trains one epoch on a tiny data set made from the bundled samples and captions with the
result. Prints one line of figures per check; exits 0, or prints one line and exits 1.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
import warnings
import wave
from pathlib import Path

from PIL import Image, ImageOps

from ml.core.defaults import asset_path, default_model_path, installed

SAMPLE = "cat.jpg"
# The bundled samples and what they show (assets/samples/SOURCES.md), for the tiny training set.
SAMPLE_CAPTIONS = {"astronaut.jpg": "a woman in an orange suit smiles in front of a flag",
                   "cat.jpg": "a cat with striped fur sits on a chair",
                   "coffee.jpg": "a cup of coffee sits on a saucer on a table",
                   "rocket.jpg": "a rocket takes off into the sky with smoke below"}


def check_caption() -> tuple[str, str]:
    from ml.captioning.captioner import Captioner

    started = time.monotonic()
    result = Captioner.load(default_model_path()).caption([asset_path("samples", SAMPLE)])[0]
    if result.error or len(result.caption.split()) < 3:
        raise RuntimeError(f"captioning {SAMPLE} failed: {result.error or repr(result.caption)}")
    seen = f" (the encoder sees: {result.tags[0][0]}, {result.tags[0][1]:.2f})" if result.tags else ""
    return result.caption, f"caption: {SAMPLE} -> '{result.caption}'{seen} in {time.monotonic() - started:.2f} s"


def check_speech(text: str, scratch: Path) -> str:
    from app.controllers.speech import worker_command

    wav = scratch / "speech.wav"
    started = time.monotonic()
    result = subprocess.run(worker_command("--text", text, "--wav", str(wav)), capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120)
    if result.returncode != 0 or not wav.is_file():
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"speech synthesis failed ({last})")
    with wave.open(str(wav)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    if seconds < 0.5:
        raise RuntimeError(f"speech synthesis wrote only {seconds:.2f} s of audio")
    return f"speech: {seconds:.1f} s of audio written in {time.monotonic() - started:.2f} s"


def check_metadata(caption: str, scratch: Path) -> str:
    """Write the caption into a copy of the sample photo's metadata (exiv2) and read it back."""
    from ml.outputs.metadata import read_caption, write_caption

    photo = scratch / SAMPLE
    photo.write_bytes(asset_path("samples", SAMPLE).read_bytes())
    write_caption(photo, caption)
    if read_caption(photo) != caption:
        raise RuntimeError(f"the caption written into {SAMPLE}'s metadata did not read back")
    return f"metadata: caption written into a copy of {SAMPLE} (EXIF, XMP) and read back"


def tiny_dataset(folder: Path) -> Path:
    """16 photos (each sample as is, mirrored, and two crops) with their captions, as an image,caption CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, caption in SAMPLE_CAPTIONS.items():
        with Image.open(asset_path("samples", name)) as opened:
            photo = opened.convert("RGB")
        width, height = photo.size
        variants = [photo, ImageOps.mirror(photo), photo.crop((0, 0, width * 3 // 4, height * 3 // 4)),
                    photo.crop((width // 4, height // 4, width, height))]
        for index, variant in enumerate(variants):
            file_name = f"{Path(name).stem}-{index}.jpg"
            variant.save(folder / file_name)
            rows.append((file_name, caption))
    with open(folder / "captions.csv", "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([("image", "caption"), *rows])
    return folder


def check_training(scratch: Path) -> str:
    from ml.captioning.captioner import Captioner
    from ml.training.config import TrainConfig
    from ml.training.pipeline import train_model

    started = time.monotonic()
    config = TrainConfig(epochs=1, units=32, batch_size=8, min_word_count=1, self_critical_epochs=0)
    model = scratch / "self-test.captioner"
    with warnings.catch_warnings():  # NLTK warns that 16 photos' captions have no 4-gram in common: true, and no fault
        warnings.simplefilter("ignore", UserWarning)
        train_model(tiny_dataset(scratch / "data"), model, config, run_dir=scratch / "run")
    result = Captioner.load(model).caption([asset_path("samples", SAMPLE)], beam_width=1)[0]
    if result.error or not result.caption:
        raise RuntimeError(f"the trained model did not caption {SAMPLE}: {result.error}")
    return f"training: one epoch on 16 photos, saved and captioned with, in {time.monotonic() - started:.1f} s"


def check_loss_plot(scratch: Path) -> str:
    """The Train page's loss chart drawn off screen: a font the package lacked failed only on that page
    (matplotlib also needs its LastResortHE font, issue 26)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from app.views.widgets import PALETTE, draw_losses

    figure = Figure(figsize=(5, 2.2), dpi=90, layout="constrained")
    draw_losses(figure, [{"epoch": 1, "loss": 3.2, "val_loss": 3.4}, {"epoch": 2, "loss": 2.9, "val_loss": 3.1}],
                PALETTE["Light"])
    FigureCanvasAgg(figure).print_png(str(scratch / "loss.png"))
    return "loss chart: drawn"


def run() -> int:
    from ml.core.native_log import silence_native_stderr

    silence_native_stderr()  # TensorFlow's C++ start-up lines go to native.log: the output is the checks' lines
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="image-captioner-self-test-") as scratch:
            caption, line = check_caption()
            print(line, flush=True)
            print(check_speech(caption, Path(scratch)), flush=True)
            print(check_metadata(caption, Path(scratch)), flush=True)
            if installed("tensorflow"):
                print(check_loss_plot(Path(scratch)), flush=True)
                print(check_training(Path(scratch)), flush=True)
            else:
                print("training: not in this build (caption-only; the full build trains)", flush=True)
    except Exception as error:  # any failure is the answer: one line, non-zero
        print(f"self-test failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"self-test passed in {time.monotonic() - started:.1f} s", flush=True)
    return 0
