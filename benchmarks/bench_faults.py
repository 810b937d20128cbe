"""Peak memory of the readers when handed oversized input (the fault suite's figures):

    .venv/bin/python benchmarks/bench_faults.py [--data ../shared/flickr8k]

- read_card / load_bundle on a model file of about 1 MB holding a 1 GiB card.json (refused unread);
- load_bundle on one holding four more decoders of 199 MiB (each under the member cap, 800 MiB together);
- `python -m ml evaluate` on a 6-photo data set while the feature cache also holds 2,000 other photos'
  grid features (about 400 MB): only the shards holding the 6 photos are read;
- load_dataset on a COCO folder whose caption file is 1 GiB, and extract_features on a 4 GiB "photo" (a
  sparse file): memory that grew with the input (issue 24 N14).
Each figure is the peak resident memory (VmHWM) of a fresh process. Run it at an older commit for the
figures before (its oversized cases print what that code did).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "assets" / "models" / "default.captioner"
PEAK = "print('peak', int(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)) // 1024)"
READ = ("import re, sys\nfrom ml.model_file import {reader}\ntry:\n    {reader}(sys.argv[1])\n"
        "    print('outcome: read')\nexcept Exception as error:\n    print('outcome:', str(error)[:150])\n" + PEAK)


def peak_of(code, *args, env=None) -> str:
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                            env=env)
    outcome = next((line for line in result.stdout.splitlines() if line.startswith("outcome")), f"rc {result.returncode}")
    peak = next((line.split()[1] for line in result.stdout.splitlines() if line.startswith("peak")), "?")
    return f"peak {peak} MiB; {outcome}"


def zip_with(path, members, big_name, big_mib, copies=1):
    with zipfile.ZipFile(SHIPPED) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name in members:
            new.writestr(name, old.read(name))
        for index in range(copies):
            name = big_name if copies == 1 else f"decoder-{index + 1}.keras"
            with new.open(name, "w", force_zip64=True) as member:
                if name == "card.json":
                    member.write(b'{"format": "image-captioner-model", "pad": "')
                for _ in range(big_mib):
                    member.write(b" " * (1 << 20))
                if name == "card.json":
                    member.write(b'"}')
    return path


def six_photo_set(flickr8k, folder):
    from ml.data.datasets import load_dataset

    dataset = load_dataset(flickr8k)
    names = dataset.splits["test"][:6]
    (folder / "Images").mkdir(parents=True)
    for name in names:
        (folder / "Images" / name).symlink_to(flickr8k / "Flicker8k_Dataset" / name)
    rows = [f"{name},{' '.join(words)}" for name in names for words in dataset.captions[name]]
    (folder / "captions.txt").write_text("image,caption\n" + "\n".join(rows) + "\n")
    return folder


def input_growth(scratch: Path) -> None:
    """Memory that grew with the input: a 1 GiB COCO caption file, a 4 GiB file named like a photo."""
    coco = scratch / "coco"
    (coco / "annotations").mkdir(parents=True)
    (coco / "train2017").mkdir()
    with open(coco / "annotations" / "captions_train2017.json", "wb") as caption_file:
        caption_file.write(b'{"images": [], "annotations": [], "pad": "')
        for _ in range(1024):
            caption_file.write(b" " * (1 << 20))
        caption_file.write(b'"}')
    load = ("import re, sys\nfrom ml.data.datasets import load_dataset\ntry:\n    load_dataset(sys.argv[1])\n"
            "    print('outcome: read')\nexcept Exception as error:\n    print('outcome:', str(error)[:150])\n" + PEAK)
    print("load_dataset, COCO folder with a 1 GiB caption file:", peak_of(load, coco))
    shutil.rmtree(coco)
    photo = scratch / "huge.jpg"
    with open(photo, "wb") as file:
        file.write(b"\xff\xd8\xff\xe0")  # a JPEG's first bytes, then 4 GiB of nothing (sparse: no disk used)
        file.truncate(4 << 30)
    features = ("import re, sys\nfrom ml.features.cache import extract_features\n"
                "result = extract_features([sys.argv[1]], 'efficientnet-lite2', cache_dir=sys.argv[2])\n"
                "print('outcome:', next(iter(result.errors.values()), 'read')[:150])\n" + PEAK)
    print('extract_features, a 4 GiB "photo":', peak_of(features, photo, scratch / "growth-cache"))
    photo.unlink()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--only-growth", action="store_true", help="only the inputs that made memory grow (N14)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp())
    input_growth(scratch)
    if args.only_growth:
        shutil.rmtree(scratch, ignore_errors=True)
        return
    card_bomb = zip_with(scratch / "card-bomb.captioner", ["vocab.json", "decoder.keras"], "card.json", 1024)
    print(f"model file {card_bomb.stat().st_size // 1024} KB with a 1 GiB card.json:")
    print("  read_card:", peak_of(READ.format(reader="read_card"), card_bomb))
    print("  load_bundle:", peak_of(READ.format(reader="load_bundle"), card_bomb))
    decoder_bomb = zip_with(scratch / "decoder-bomb.captioner", ["card.json", "vocab.json", "decoder.keras"],
                            "", 199, copies=4)
    print(f"model file {decoder_bomb.stat().st_size // 1024} KB with 4 more decoders of 199 MiB:")
    print("  load_bundle:", peak_of(READ.format(reader="load_bundle"), decoder_bomb))

    data_dir = scratch / "user-data"
    converted = Path(os.environ.get("IMAGE_CAPTIONER_DATA_DIR", REPO / ".cache" / "test-user-data")) / "encoders"
    if converted.is_dir():
        shutil.copytree(converted, data_dir / "encoders")  # reuse converted encoder weights: not measured here
    env = dict(os.environ, IMAGE_CAPTIONER_DATA_DIR=str(data_dir), TF_CPP_MIN_LOG_LEVEL="3")
    evaluate = ("import re, sys\nfrom ml.__main__ import main\ncode = main(sys.argv[1:])\n"
                "print('outcome: rc', code)\n" + PEAK)
    data = six_photo_set(args.data, scratch / "six")
    command = ["evaluate", "--data", data, "--split", "test", "--beam", "1"]
    print("evaluate, 6-photo data set, empty cache:", peak_of(evaluate, *command, env=env))

    os.environ["IMAGE_CAPTIONER_DATA_DIR"] = str(data_dir)
    from ml.features.cache import FeatureCache, default_cache_dir

    cache = FeatureCache(default_cache_dir("efficientnet-lite2", grid=True))
    for start in range(0, 2000, 500):  # other data sets' photos, in shards as extraction writes them
        cache.add([f"other-{i}" for i in range(start, start + 500)], np.zeros((500, 81, 1280), np.float16))
    print("evaluate, same, beside 2,000 other photos' cached grids (415 MB):", peak_of(evaluate, *command, env=env))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
