"""Stands in for pyttsx3 on a machine without a speech engine (used by one test via PYTHONPATH)."""


def init(*args, **kwargs):
    raise RuntimeError("no speech driver available")
