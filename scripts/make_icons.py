"""Draw the app icon (a photo with a speech bubble) and write it in each platform's format:
assets/icons/app.png (Linux window and desktop entry), app.ico (Windows), app.icns (macOS).

    .venv/bin/python scripts/make_icons.py
"""
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parents[1] / "assets" / "icons"
SIZE = 512


def draw_icon() -> Image.Image:
    icon = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((16, 16, 496, 496), radius=96, fill=(31, 83, 141))  # the app's blue
    draw.rounded_rectangle((72, 120, 360, 360), radius=24, fill=(245, 245, 240))  # the photo
    draw.polygon([(96, 336), (176, 224), (240, 300), (280, 256), (336, 336)], fill=(70, 140, 90))  # hills
    draw.ellipse((272, 144, 328, 200), fill=(240, 190, 60))  # sun
    draw.rounded_rectangle((236, 292, 460, 428), radius=40, fill=(255, 255, 255))  # the spoken caption
    draw.polygon([(300, 420), (268, 476), (352, 424)], fill=(255, 255, 255))
    for row, width in ((330, 170), (366, 120)):
        draw.rounded_rectangle((266, row, 266 + width, row + 18), radius=9, fill=(31, 83, 141))
    return icon


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    icon = draw_icon()
    icon.resize((256, 256), Image.Resampling.LANCZOS).save(ICONS / "app.png")
    icon.save(ICONS / "app.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    icon.save(ICONS / "app.icns")


if __name__ == "__main__":
    main()
