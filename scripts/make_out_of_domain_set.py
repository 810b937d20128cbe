"""Build tests/data/out_of_domain/: everyday free-licence photos unlike Flickr8k's, for the honesty tests
and benchmark (issue 16). Sources are installable here: scikit-image's wheel, matplotlib's sample data
and Debian's plasma-workspace-wallpapers package; each photo is resized to at most 512 px as JPEG.

    python scripts/make_out_of_domain_set.py SOURCE_FOLDER
SOURCE_FOLDER holds the scikit-image wheel and the extracted .deb (see tests/data/out_of_domain/SOURCES.md).
"""
from __future__ import annotations

import sys
import zipfile
from io import BytesIO
from pathlib import Path

from PIL import Image

TARGET = Path(__file__).resolve().parent.parent / "tests" / "data" / "out_of_domain"
SKIMAGE = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "hubble_deep_field.jpg",
           "rocket.jpg", "clock_motion.png", "retina.jpg", "horse.png"]
WALLPAPERS = ["BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
              "Kite", "OneStandsOut", "Path", "summer_1am"]


def save(image: Image.Image, name: str) -> None:
    image = image.convert("RGB")
    image.thumbnail((512, 512), Image.Resampling.LANCZOS)
    image.save(TARGET / f"{name}.jpg", quality=88)


def main(source: Path) -> None:
    wheel = next(source.glob("scikit_image-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        for file_name in SKIMAGE:
            save(Image.open(BytesIO(archive.read(f"skimage/data/{file_name}"))), "skimage-" + file_name.split(".")[0])
    import matplotlib

    hopper = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    save(Image.open(hopper), "matplotlib-grace_hopper")
    for wallpaper in WALLPAPERS:
        save(Image.open(source / "ext/usr/share/wallpapers" / wallpaper / "contents/images/2560x1600.jpg"),
             "plasma-" + wallpaper)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
