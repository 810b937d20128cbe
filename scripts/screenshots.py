"""Save screenshots of the real app to docs/screenshots/ (run under a DISPLAY, e.g. Xvfb), light and dark:
the Caption page, the Folder page, a training run mid-way and its comparison, and the Models page.

    .venv/bin/python scripts/screenshots.py [--data ../shared/flickr8k] [--only-named]

The app runs on new settings and data folders (what a new user sees; encoder weights and features are
computed afresh, about two minutes) and shows folder names, not paths, so no machine's paths are pictured.
Speech is pointed at a sound card that does not exist, so no playback message covers the pictures.
"""
import argparse
import os
import subprocess
from pathlib import Path

from app.constants import Page
from app.event_loop import run_for, run_until

REPO = Path(__file__).resolve().parents[1]


SAMPLES = REPO / "assets" / "samples"


def shoot(app, name):
    run_for(app.update, 0.8)  # let the last drawing settle
    x, y, width, height = app.winfo_rootx(), app.winfo_rooty(), app.winfo_width(), app.winfo_height()
    target = REPO / "docs" / "screenshots" / f"{name}.png"
    subprocess.run(["import", "-window", "root", "-crop", f"{width}x{height}+{x}+{y}", str(target)], check=True)
    print(target)


def caption_page(app, theme):

    app.show_page(Page.CAPTION)
    view = app.pages[Page.CAPTION]
    view.set_caption("")
    view.set_attention([], [])  # the other theme's picture is not mistaken for this one's
    app.caption.open_photo(SAMPLES / "astronaut.jpg")  # described at once
    run_until(app.update, lambda: view.get_caption() and view.get_attention_words(), 180)
    view.choose_word(3)  # where the model looked for the caption's fourth word
    shoot(app, f"caption-{theme}")


def named_subject(app):
    """Issue 23: a kitten the plain decoder calls a dog, before and after captions name what the encoder sees."""
    app.show_page(Page.CAPTION)
    view = app.pages[Page.CAPTION]
    namer = app.caption.captioner.namer
    for name, naming in (("named-before-light", None), ("named-after-light", namer)):
        app.caption.captioner.namer = naming
        view.set_caption("")
        app.caption.open_photo(REPO / "tests" / "data" / "open_vocabulary" / "serve-kitten.jpg")
        run_until(app.update, lambda: view.get_caption() and view.get_attention_words(), 180)
        shoot(app, name)
    app.caption.captioner.namer = namer


def folder_page(app, theme):
    from app.constants import Page

    app.show_page(Page.FOLDER)
    app.folder.choose_folder(SAMPLES)
    run_until(app.update, lambda: app.folder.paths, 180)
    if not app.folder_captions.rows:
        app.folder.caption_all()
    run_until(app.update, lambda: app.folder.cancel_event is None and app.folder_captions.rows, 180)
    shoot(app, f"folder-{theme}")


def training(app, data):
    """A run on 600 photos: a picture mid-way (two epochs on the loss plot), then its comparison."""
    from app.constants import Page

    app.show_page(Page.TRAIN)
    view = app.pages[Page.TRAIN]
    app.train.choose_dataset(data)
    run_until(app.update, lambda: app.train.dataset_folder is not None, 180)
    view.set_encoder("efficientnet-lite0")
    view.set_field("epochs", 4)
    view.set_field("max_train_photos", 600)
    app.train.start()
    run_until(app.update, lambda: len(app.train.epochs) >= 2, 900)
    shoot(app, "train-running-light")
    run_until(app.update, lambda: app.train.result_card is not None, 900)
    shoot(app, "train-result-light")


def models_page(app, theme):
    from app.constants import Page

    app.show_page(Page.MODELS)
    view = app.pages[Page.MODELS]
    run_until(app.update, lambda: view.tree.get_children(), 60)
    view.select(str(app.registry.shipped_model))
    shoot(app, f"models-{theme}")


def sizes(app):
    """The Caption page at a 1024x600 screen's usable size and at a large size (issue 25: nothing clipped)."""
    for size, name in (("1024x560", "caption-small"), ("1400x900", "caption-large")):
        app.geometry(f"{size}+0+0")
        run_for(app.update, 1.0)
        shoot(app, name)
    app.geometry("1280x800+0+0")
    run_for(app.update, 1.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--only-named", action="store_true", help="only the before/after pictures of issue 23")
    args = parser.parse_args()
    from app.paths import use_scratch_user_folders

    use_scratch_user_folders()
    os.environ["ALSA_CARD"] = "none-for-screenshots"
    from app.application import App

    app = App()
    app.geometry("1280x800+0+0")
    app.settings_model.update(auto_speak=False)
    app.pages[Page.CAPTION].set_auto_speak(False)
    run_until(app.update, lambda: app.caption.captioner is not None, 300)
    if args.only_named:
        named_subject(app)
        app.close()
        return
    for theme in ("light", "dark"):
        app.change_theme(theme.capitalize())
        app.theme_menu.set(theme.capitalize())
        caption_page(app, theme)
        if theme == "light":
            sizes(app)
        folder_page(app, theme)
        models_page(app, theme)
    app.change_theme("Light")
    app.theme_menu.set("Light")
    if args.data.is_dir():
        training(app, args.data)
    app.close()


if __name__ == "__main__":
    main()
