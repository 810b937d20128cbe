"""Issue 27, item 1: beam search for a whole batch at once gives the same captions as one photo at a time
(the per-photo search stays as the reference, and as the benchmark's baseline)."""
import numpy as np
import pytest

from ml.captioning.captioner import Captioner
from ml.core.defaults import default_model_path
from ml.data.images import load_pixels
from ml.decoders.search import batched_beam_decode, beam_decode

DEV_PHOTOS = 64


@pytest.fixture(scope="module")
def dev_features(flickr8k):
    """The shipped model and the features of the first Flickr8k dev photos."""
    captioner = Captioner.load(default_model_path())
    names = (flickr8k / "Flickr8k_text" / "Flickr_8k.devImages.txt").read_text().split()[:DEV_PHOTOS]
    pixels = np.stack([load_pixels(flickr8k / "Flicker8k_Dataset" / name, captioner.spec.image_size)
                       for name in names])
    return captioner, captioner.features(pixels)


@pytest.mark.parametrize("beam_width", [2, 5])
def test_batched_beam_search_gives_the_per_photo_captions(dev_features, beam_width):
    captioner, features = dev_features
    one_at_a_time = [beam_decode(captioner.step_decoder, captioner.vocab, row[None], beam_width) for row in features]
    batched = batched_beam_decode(captioner.step_decoder, captioner.vocab, features, beam_width)
    assert batched == one_at_a_time
