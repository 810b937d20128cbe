"""Speaks one text (or writes it to a WAV file) in its own process, then exits.

pyttsx3 is known to hang or fall silent on a second runAndWait() and to misbehave outside its
own thread; one short-lived process per utterance makes the tenth utterance work like the first,
and Stop can end speech at once by ending the process (and its player) as a group.

On Linux pyttsx3 drives espeak-ng, whose driver loses any utterance longer than about ten
seconds of audio and plays through `aplay`; so there the text is synthesised in short pieces,
joined into one WAV file, and played with aplay.
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import wave

from app.paths import system_program_environment
from ml.core.atomic import replace_atomically

# Words per piece on Linux: well under the ~10 s of audio the espeak driver can keep.
WORDS_PER_PIECE = 14
# The espeak driver now and then ends its loop without writing the file; try a piece this often.
ATTEMPTS = 3


class PlaybackError(RuntimeError):
    """Speech was made but could not be played."""


def _english_voice(engine):
    for voice in engine.getProperty("voices"):
        ident = (voice.id or "").lower()
        if ident.endswith("/en") or ident.endswith("/en-us") or "english" in (voice.name or "").lower():
            return voice.id
    return None


def _pieces(text):
    words = text.split()
    return [" ".join(words[i:i + WORDS_PER_PIECE]) for i in range(0, len(words), WORDS_PER_PIECE)] or [""]


def save_wav(engine, text, target):
    """Synthesise text into one WAV file, piece by piece, written atomically."""
    with tempfile.TemporaryDirectory() as scratch:
        parts = []
        for index, piece in enumerate(_pieces(text)):
            part = os.path.join(scratch, f"{index}.wav")
            for _ in range(ATTEMPTS):
                engine.save_to_file(piece, part)
                engine.runAndWait()
                if os.path.exists(part) and os.path.getsize(part) > 44:  # more than a bare WAV header
                    break
            else:
                raise RuntimeError(f"the speech engine wrote no audio for '{piece[:40]}'")
            parts.append(part)

        def join(temp):
            with wave.open(str(temp), "wb") as joined:
                for index, part in enumerate(parts):
                    with wave.open(part) as source:
                        if index == 0:
                            joined.setparams(source.getparams())
                        joined.writeframes(source.readframes(source.getnframes()))

        replace_atomically(target, join, ".wav")


def speak(engine, text):
    if platform.system() != "Linux":
        engine.say(text)
        engine.runAndWait()
        return
    with tempfile.TemporaryDirectory() as scratch:
        wav = os.path.join(scratch, "speech.wav")
        save_wav(engine, text, wav)
        try:
            played = subprocess.run(["aplay", "-q", wav], capture_output=True, text=True,
                                    env=system_program_environment())
        except FileNotFoundError:  # it was an unhandled exception (issue 26, item 4)
            raise PlaybackError("the speech could not be played (no audio player: install alsa-utils for aplay)") from None
        if played.returncode != 0:  # no audio device, or it is busy: say so, never exit 0 in silence
            reason = (played.stderr.strip().splitlines() or [f"aplay exit code {played.returncode}"])[-1]
            raise PlaybackError(f"the speech could not be played ({reason})")


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
        save_wav(engine, args.text, args.wav)
        return 0
    try:
        speak(engine, args.text)
    except PlaybackError as error:
        print(error, file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
