"""python -m app starts the desktop app; the packaged app also serves as its own speech worker."""
import sys

if len(sys.argv) > 1 and sys.argv[1] == "--speech-worker":
    from app.speech_worker import main as speech_main

    sys.exit(speech_main(sys.argv[2:]))

from app.application import main  # noqa: E402

main()
