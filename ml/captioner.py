"""The narrow inference API the CLI and the app use: load a model file, caption photos."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence

import numpy as np

from .annotations import PathLike
from .bundle import load_bundle
from .config import BEAM_WIDTH, LENGTH_PENALTY
from .decoder import step_decoder_for
from .decoding import decode_captions
from .encoders import build_encoder, get_spec
from .images import ImageError, load_pixels
from .progress import CancelFlag, Phase, ProgressCallback, ProgressMeter, check_cancel
from .results import CaptionResult

if TYPE_CHECKING:
    import keras

    from .bundle import Bundle


class Captioner:
    """A model bundle with its encoder, ready to caption photos."""

    def __init__(self, bundle: Bundle, encoder: Optional[keras.Model] = None,
                 encoder_weights_path: Optional[PathLike] = None):
        self.bundle, self.vocab, self.card = bundle, bundle.vocab, bundle.card
        self.step_decoder = step_decoder_for(bundle.decoders)
        self.spec = get_spec(self.card["encoder"])
        self.uses_grid = self.card.get("features") == "grid"
        self._encoder = encoder
        self._encoder_weights_path = encoder_weights_path
        self._forward: Optional[Callable] = None

    @classmethod
    def load(cls, model_path: PathLike, encoder_weights_path: Optional[PathLike] = None) -> Captioner:
        return cls(load_bundle(model_path), encoder_weights_path=encoder_weights_path)

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """Encoder features for a batch of pixel arrays (N, size, size, 3)."""
        if self._forward is None:
            from .features import compiled_forward

            encoder = self._encoder or build_encoder(self.spec.name, weights_path=self._encoder_weights_path,
                                                     grid=self.uses_grid)
            self._forward = compiled_forward(encoder)
        return self._forward(np.asarray(pixels, np.float32)).numpy()

    def warm_up(self) -> None:
        """Build and trace the encoder now, so the user's first caption is as fast as the next."""
        size = self.spec.image_size
        self.features(np.zeros((1, size, size, 3), np.float32))

    def caption_features(self, features: np.ndarray, beam_width: int = BEAM_WIDTH,
                         length_penalty: float = LENGTH_PENALTY) -> list:
        """Caption strings for precomputed feature vectors."""
        word_lists = decode_captions(self.step_decoder, self.vocab, features, beam_width, length_penalty)
        return [" ".join(words) for words in word_lists]

    def caption_batches(self, paths: Sequence[PathLike], beam_width: int = BEAM_WIDTH, batch_size: int = 8,
                        cancel: Optional[CancelFlag] = None) -> Iterator[list[CaptionResult]]:
        """Each batch's results, in the order of `paths`, as soon as it is captioned (so a caller can show
        or print them at once); an unreadable photo gets its one-line error and the rest go on."""
        photo_paths = [Path(p) for p in paths]
        for start in range(0, len(photo_paths), batch_size):
            check_cancel(cancel)
            batch = photo_paths[start:start + batch_size]
            results: list[CaptionResult] = [CaptionResult(path) for path in batch]
            readable = []
            for index, path in enumerate(batch):
                try:
                    readable.append((index, load_pixels(path, self.spec.image_size)))
                except ImageError as error:
                    results[index].error = str(error)
            if readable:
                vectors = self.features(np.stack([pixels for _, pixels in readable]))
                for (index, _), text in zip(readable, self.caption_features(vectors, beam_width)):
                    results[index].caption = text
            yield results

    def caption(self, paths: Sequence[PathLike], beam_width: int = BEAM_WIDTH,
                on_progress: Optional[ProgressCallback] = None, cancel: Optional[CancelFlag] = None,
                batch_size: int = 8) -> list[CaptionResult]:
        """Caption each photo; unreadable photos get an error and the rest go on."""
        results: list[CaptionResult] = []
        meter = ProgressMeter(Phase.CAPTION, len(paths), on_progress)
        for batch in self.caption_batches(paths, beam_width, batch_size, cancel):
            results.extend(batch)
            meter.advance(len(batch))
        return results
