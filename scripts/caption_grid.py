"""Caption a folder of photos and save one grid image of photos with their captions, to look at.

    .venv/bin/python scripts/caption_grid.py ../shared/flickr8k/originals [--model M] [--output .cache/grid.jpg]

The default output is under .cache/ (ignored by git): Flickr8k photos must never enter the repo.
"""
import argparse
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw

from ml.core.defaults import BEAM_WIDTH

REPO = Path(__file__).resolve().parents[1]


CELL, TEXT_HEIGHT, COLUMNS = 240, 64, 5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", type=Path, default=REPO / "assets" / "models" / "default.captioner")
    parser.add_argument("--beam", type=int, default=BEAM_WIDTH)
    parser.add_argument("--output", type=Path, default=REPO / ".cache" / "caption_grid.jpg")
    args = parser.parse_args()
    from ml.captioning.captioner import Captioner
    from ml.data.images import list_images, open_rgb

    paths = list_images(args.folder)
    results = Captioner.load(args.model).caption(paths, beam_width=args.beam)
    rows = -(-len(results) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * CELL, rows * (CELL + TEXT_HEIGHT)), "white")
    draw = ImageDraw.Draw(sheet)
    for index, result in enumerate(results):
        x, y = index % COLUMNS * CELL, index // COLUMNS * (CELL + TEXT_HEIGHT)
        photo = open_rgb(result.path)
        photo.thumbnail((CELL - 8, CELL - 8))
        sheet.paste(photo, (x + (CELL - photo.width) // 2, y + (CELL - photo.height) // 2))
        text = "\n".join(textwrap.wrap(result.caption or result.error, 38)[:4])
        draw.multiline_text((x + 4, y + CELL), text, fill="black")
        print(f"{result.path.name}\t{result.caption or result.error}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output, quality=85)
    print(args.output)


if __name__ == "__main__":
    main()
