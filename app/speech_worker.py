"""Speaks one text (or writes it to a WAV file) in its own process, then exits.

pyttsx3 is known to hang or fall silent on a second runAndWait() and to misbehave outside its
own thread; one short-lived process per utterance makes the tenth utterance work like the first,
and Stop can end speech at once by ending the process.
"""
import argparse
import os
import sys


def _english_voice(engine):
    for voice in engine.getProperty("voices"):
        ident = (voice.id or "").lower()
        if ident.endswith("/en") or ident.endswith("/en-us") or "english" in (voice.name or "").lower():
            return voice.id
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="speech worker")
    parser.add_argument("--text", default="")
    parser.add_argument("--wav", help="write speech to this WAV file instead of the speakers")
    parser.add_argument("--rate", type=int, default=165)
    parser.add_argument("--probe", action="store_true", help="only check that a speech engine exists")
    args = parser.parse_args(argv)
    try:
        import pyttsx3

        engine = pyttsx3.init()
    except Exception as error:  # no engine: report in one line, the app disables Speak
        print(f"no text-to-speech engine ({type(error).__name__}: {error}); on Linux install espeak-ng",
              file=sys.stderr)
        return 3
    if args.probe:
        return 0
    voice = _english_voice(engine)
    if voice:
        engine.setProperty("voice", voice)
    engine.setProperty("rate", args.rate)
    if args.wav:
        temp = f"{args.wav}.{os.getpid()}.tmp.wav"
        engine.save_to_file(args.text, temp)
        engine.runAndWait()
        os.replace(temp, args.wav)
    else:
        engine.say(args.text)
        engine.runAndWait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
