"""Headless image captioning: data sets, encoders, features, LSTM decoder, decoding, evaluation, model files.

Never imports the app package, so it runs in scripts, tests and worker threads alike.
"""
