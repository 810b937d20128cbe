"""Controllers connect views to models and run all slow work (TensorFlow, files, speech) off the UI thread."""
