"""Saying how sure a caption is, and saying it honestly.

confidence   signals from the model itself (word log-probabilities, member spread, typicality) and the
             calibrated logistic fit that turns them into a confidence
calibration  fitting that on a data set's dev split (imported by name: it loads NLTK for CIDEr)
hedging      hedged wording and the ImageNet label a caption contradicts
attention    where the model looked for each word, as maps and heatmaps
"""
from ml.honesty.confidence import Calibration
from ml.honesty.hedging import hedged_text

__all__ = ["Calibration", "hedged_text"]
