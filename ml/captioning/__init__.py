"""The narrow inference API the CLI and the app use: Captioner.load(model file), then caption(photos).

captioner  loads a model file and captions photos (LiteRT encoder, numpy decoders: no TensorFlow)
naming     captions made to name what the encoder recognises (constrained beam search), people not invented
results    CaptionResult, what captioning a photo gives back (light: the app's state holds it)
"""
from ml.captioning.captioner import Captioner
from ml.captioning.results import CaptionResult

__all__ = ["CaptionResult", "Captioner"]
