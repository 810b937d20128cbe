"""Save a screenshot of each page of the real app to docs/screenshots/ (run under a DISPLAY, e.g. Xvfb).

    .venv/bin/python scripts/screenshots.py [--data ../shared/flickr8k]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pump(app, condition, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        app.update()
        time.sleep(0.02)
    for _ in range(20):  # let the last drawing settle
        app.update()
        time.sleep(0.02)


def shoot(app, name):
    x, y, width, height = app.winfo_rootx(), app.winfo_rooty(), app.winfo_width(), app.winfo_height()
    target = REPO / "docs" / "screenshots" / f"{name}.png"
    subprocess.run(["import", "-window", "root", "-crop", f"{width}x{height}+{x}+{y}", str(target)], check=True)
    print(target)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    args = parser.parse_args()
    # A fresh settings and model folder, so the pictures show what a new user sees.
    scratch = Path(tempfile.mkdtemp())
    os.environ["IMAGE_CAPTIONER_CONFIG_DIR"] = str(scratch / "config")
    os.environ.setdefault("IMAGE_CAPTIONER_DATA_DIR", str(scratch / "data"))
    from app.application import App
    from app.constants import Page

    app = App()
    app.geometry("1280x800+0+0")
    pump(app, lambda: app.caption.captioner is not None)
    app.caption.open_photo(REPO / "assets" / "samples" / "astronaut.jpg")
    pump(app, lambda: app.caption.photo_path is not None)
    app.caption.caption()
    pump(app, lambda: app.pages[Page.CAPTION].get_caption())
    shoot(app, "caption")

    app.show_page(Page.FOLDER)
    app.folder.choose_folder(REPO / "assets" / "samples")
    pump(app, lambda: app.folder.paths)
    app.folder.caption_all()
    pump(app, lambda: app.folder.cancel is None and app.folder_captions.rows)
    shoot(app, "folder")

    app.show_page(Page.TRAIN)
    if args.data.is_dir():
        app.train.choose_dataset(args.data)
        pump(app, lambda: app.train.dataset_folder is not None)
    shoot(app, "train")

    app.show_page(Page.MODELS)
    app.pages[Page.MODELS].select(str(app.registry.shipped_model))
    pump(app, lambda: True, 1)
    shoot(app, "models")
    app.close()


if __name__ == "__main__":
    main()
