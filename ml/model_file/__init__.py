"""A trained model as one file a user can copy (.captioner, a zip of JSON and arrays).

layout   the format: member names, size caps, Bundle (a loaded file)
card     the model card: what made the model, on what data, how well it scores; checked on load
reader   reading a file back: the security boundary (sizes, schemas, dtypes, shapes, a dry decoding step,
         never pickle, Keras safe_mode)
writer   writing files atomically: a trained model, a calibration added, the caption-only copy
combine  several models into one ensemble file
"""
from ml.core.errors import BundleError
from ml.model_file.combine import combine_bundles
from ml.model_file.layout import BUNDLE_SUFFIX, DOMAIN_MEMBER, Bundle
from ml.model_file.reader import load_bundle, load_keras_decoders, read_card
from ml.model_file.writer import add_calibration, caption_only_copy, save_bundle

__all__ = ["BUNDLE_SUFFIX", "DOMAIN_MEMBER", "Bundle", "BundleError", "add_calibration", "caption_only_copy",
           "combine_bundles", "load_bundle", "load_keras_decoders", "read_card", "save_bundle"]
