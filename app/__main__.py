"""python -m app [PHOTO] starts the desktop app (the packaged app too). The packaged app also serves as its
own speech worker (--speech-worker), checks itself (--self-test) and says its version (--version)."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # training's TensorFlow start-up chatter stays off the terminal

if len(sys.argv) > 1 and sys.argv[1] == "--speech-worker":
    from app.speech_worker import main as speech_main

    sys.exit(speech_main(sys.argv[2:]))

if len(sys.argv) > 1 and sys.argv[1] == "--version":
    from ml.core.defaults import VERSION

    print(f"Image Captioner {VERSION}")
    sys.exit(0)

from app.home_folders import import_customtkinter, keep_keras_in_app_data  # noqa: E402

keep_keras_in_app_data()
import_customtkinter()

if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
    from app.self_test import run

    sys.exit(run())

from app.application import main  # noqa: E402

main()
