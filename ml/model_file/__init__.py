"""A trained model as one file a user can copy (.captioner, a zip of JSON and arrays).

card    the model card: what made the model, on what data, how well it scores; checked on load
bundle  writing model files, and reading them back: the security boundary (sizes, dtypes, shapes,
        a dry decoding step; never pickle), calibration added to a file, caption-only copies, ensembles
"""
from ml.model_file.bundle import BUNDLE_SUFFIX, Bundle, load_bundle, read_card

__all__ = ["BUNDLE_SUFFIX", "Bundle", "load_bundle", "read_card"]
