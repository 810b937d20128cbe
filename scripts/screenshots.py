"""Save a screenshot of each page of the real app to docs/screenshots/ (run under a DISPLAY, e.g. Xvfb).

    .venv/bin/python scripts/screenshots.py [--data ../shared/flickr8k]
"""
import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.event_loop import run_for  # noqa: E402


def shoot(app, name):
    run_for(app.update, 0.5)  # let the last drawing settle
    x, y, width, height = app.winfo_rootx(), app.winfo_rooty(), app.winfo_width(), app.winfo_height()
    target = REPO / "docs" / "screenshots" / f"{name}.png"
    subprocess.run(["import", "-window", "root", "-crop", f"{width}x{height}+{x}+{y}", str(target)], check=True)
    print(target)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    args = parser.parse_args()
    from app.paths import use_scratch_user_folders

    use_scratch_user_folders()  # the pictures show what a new user sees
    from app.application import App
    from app.event_loop import run_until
    from app.constants import Page

    app = App()
    app.geometry("1280x800+0+0")
    run_until(app.update, lambda: app.caption.captioner is not None, 180)
    app.caption.open_photo(REPO / "assets" / "samples" / "astronaut.jpg")
    run_until(app.update, lambda: app.caption.photo_path is not None, 180)
    app.caption.caption()
    run_until(app.update, lambda: app.pages[Page.CAPTION].get_caption(), 180)
    shoot(app, "caption")

    app.show_page(Page.FOLDER)
    app.folder.choose_folder(REPO / "assets" / "samples")
    run_until(app.update, lambda: app.folder.paths, 180)
    app.folder.caption_all()
    run_until(app.update, lambda: app.folder.cancel_event is None and app.folder_captions.rows, 180)
    shoot(app, "folder")

    app.show_page(Page.TRAIN)
    if args.data.is_dir():
        app.train.choose_dataset(args.data)
        run_until(app.update, lambda: app.train.dataset_folder is not None, 180)
    shoot(app, "train")

    app.show_page(Page.MODELS)
    run_until(app.update, lambda: app.pages[Page.MODELS].tree.get_children(), 60)
    app.pages[Page.MODELS].select(str(app.registry.shipped_model))
    shoot(app, "models")
    app.close()


if __name__ == "__main__":
    main()
