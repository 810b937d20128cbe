"""Speaks one text (or writes it to a WAV file) in its own process, then exits.

pyttsx3 is known to hang or fall silent on a second runAndWait() and to misbehave outside its
own thread; one short-lived process per utterance makes the tenth utterance work like the first,
and Stop can end speech at once by ending the process (and its player) as a group.

On Linux pyttsx3 drives espeak-ng, whose driver loses any utterance longer than about ten
seconds of audio and plays through `aplay`; so there the text is synthesised in short pieces,
joined into one WAV file, and played with miniaudio, which talks to PulseAudio (PipeWire's too) or
ALSA itself: no audio program is needed from the system (issue 26). The packaged app carries
espeak-ng's library and its English data (build.spec), pointed to by ESPEAK_DATA_PATH here.
"""
import argparse
import contextlib
import io
import os
import platform
import sys
import tempfile
import time
import wave
from pathlib import Path

from ml.core.atomic import replace_atomically

# Words per piece on Linux: well under the ~10 s of audio the espeak driver can keep.
WORDS_PER_PIECE = 14
# The espeak driver now and then ends its loop without writing the file; try a piece this often.
ATTEMPTS = 3
# Set (to anything) to play into miniaudio's null device, which takes the audio at the speed a sound card
# would: how tests on machines without one go through playback.
NULL_AUDIO = "IMAGE_CAPTIONER_NULL_AUDIO"


class PlaybackError(RuntimeError):
    """Speech was made but could not be played."""


def _english_voice(engine):
    """espeak-ng's American English voice, else British, else any whose name starts with "English". (Any id
    ending in /en or name holding "english" picked "Chinese (Mandarin, latin as English)", listed first.)"""
    voices = engine.getProperty("voices")
    for wanted in ("/en-us", "/en"):
        for voice in voices:
            if (voice.id or "").lower().endswith(wanted):
                return voice.id
    for voice in voices:
        if (voice.name or "").lower().startswith("english"):
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
                with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to /tmp/…" (issue 26, item 9)
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


def play(wav):
    """Play a WAV file to the end on the default sound device."""
    import miniaudio

    with wave.open(wav) as sound:
        channels, rate, seconds = sound.getnchannels(), sound.getframerate(), sound.getnframes() / sound.getframerate()
    backends = [miniaudio.Backend.NULL] if os.environ.get(NULL_AUDIO) else None
    try:
        device = miniaudio.PlaybackDevice(output_format=miniaudio.SampleFormat.SIGNED16, nchannels=channels,
                                          sample_rate=rate, backends=backends)
    except miniaudio.MiniaudioError:
        raise PlaybackError("the speech could not be played (no sound device was found)") from None
    stream = miniaudio.stream_file(wav, output_format=miniaudio.SampleFormat.SIGNED16, nchannels=channels, sample_rate=rate)
    next(stream)  # a playback generator starts primed
    with device:
        device.start(stream)
        time.sleep(seconds + 0.2)  # the device plays in its own thread; the rest of the buffer drains


def speak(engine, text):
    if platform.system() != "Linux":
        engine.say(text)
        engine.runAndWait()
        return
    with tempfile.TemporaryDirectory() as scratch:
        wav = os.path.join(scratch, "speech.wav")
        save_wav(engine, text, wav)
        play(wav)


def use_bundled_espeak():
    """In the packaged app, espeak-ng reads the data it carries (espeak-ng-data beside the app's libraries),
    not the system's, which a bare system does not have."""
    bundle = Path(getattr(sys, "_MEIPASS", ""))
    if getattr(sys, "frozen", False) and (bundle / "espeak-ng-data").is_dir():
        os.environ.setdefault("ESPEAK_DATA_PATH", str(bundle))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="speech worker")
    parser.add_argument("--text", default="")
    parser.add_argument("--wav", help="write speech to this WAV file instead of the speakers")
    parser.add_argument("--rate", type=int, default=165)
    parser.add_argument("--probe", action="store_true", help="only check that a speech engine exists")
    args = parser.parse_args(argv)
    use_bundled_espeak()
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
