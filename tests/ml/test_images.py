"""Any photo a user has is read upright as RGB, or refused with one line naming the file."""
import numpy as np
import pytest
from PIL import Image

from ml.data.images import ImageError, list_images, load_pixels, open_rgb


@pytest.mark.parametrize("kind", ["grayscale", "cmyk", "rgba", "palette", "16-bit", "animated"])
def test_odd_modes_become_rgb_pixels(odd_photos, kind):
    pixels = load_pixels(odd_photos[kind], 32)
    assert pixels.shape == (32, 32, 3) and pixels.dtype == np.float32
    assert 0 <= pixels.min() and pixels.max() <= 255 and pixels.std() > 1  # a real gradient, not blank


def test_sixteen_bit_is_scaled_not_clipped(odd_photos):
    pixels = load_pixels(odd_photos["16-bit"], 32)
    assert pixels.max() > 200 and pixels.min() < 50


def test_animated_gif_gives_first_frame(odd_photos):
    first = np.asarray(open_rgb(odd_photos["animated"]))
    assert first.std() > 1  # frame 2 is one flat colour


@pytest.mark.parametrize("kind, words", [("empty", "empty"), ("truncated", "damaged"),
                                         ("text", "not a photo this app can read"), ("huge", "too large")])
def test_bad_files_get_one_line_error_naming_file(bad_photos, kind, words):
    with pytest.raises(ImageError) as caught:
        load_pixels(bad_photos[kind], 32)
    message = str(caught.value)
    assert str(bad_photos[kind]) in message and words in message and "\n" not in message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        open_rgb(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="folder not found"):
        list_images(tmp_path / "nowhere")


def test_exif_orientation_is_applied(tmp_path):
    tall = Image.new("RGB", (40, 80), "white")
    tall.paste((255, 0, 0), (0, 0, 40, 10))  # red band at the top
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    tall.save(path, exif=exif)
    upright = open_rgb(path)
    assert upright.size == (80, 40)
    right_edge = np.asarray(upright)[:, -5:, 0].mean(), np.asarray(upright)[:, -5:, 1].mean()
    assert right_edge[0] > 200 and right_edge[1] < 80  # the red band turned to the right edge


def test_list_images_keeps_photos_only(tmp_path):
    for name in ["b.JPG", "a.png", "notes.txt", "c.jpeg"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.JPG", "c.jpeg"]
