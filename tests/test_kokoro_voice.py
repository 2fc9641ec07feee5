"""Kokoro voices for the per-language corpus: espeak-ng IPA rewritten to Kokoro's symbols, Japanese through the
package's own phonemiser, deterministic audio, and the corpus's Kokoro clips."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from engine.io.audio import SAMPLE_RATE
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of scripts, not an installed package

from benchmarks import language_corpus as lc  # noqa: E402
from benchmarks.kokoro_voice import TIED, KokoroVoice, espeak_phonemes  # noqa: E402


def test_espeak_ipa_loses_its_tie_bars_and_keeps_each_clause_mark():
    italian = espeak_phonemes("Ciao, come stai?", "it")
    assert "^" not in italian and "ʧ" in italian  # t^ʃ -> ʧ
    assert italian.count(",") == 1 and italian.endswith("?")
    assert espeak_phonemes("المتجر مغلق؟", "ar").endswith("?")  # Arabic question mark -> one Kokoro knows
    assert all(len(single) == 1 for single in TIED.values())


@pytest.fixture(scope="module")
def voice() -> KokoroVoice:
    return KokoroVoice("jm_kumo")


def test_kokoro_speaks_deterministically_at_the_corpus_rate(voice):
    a = voice.audio("Il gatto dorme sul divano.", "it")
    b = voice.audio("Il gatto dorme sul divano.", "it")
    assert np.array_equal(a, b) and a.dtype == np.float32
    assert 0.8 * SAMPLE_RATE < len(a) < 6 * SAMPLE_RATE and np.abs(a).max() > 0.05
    slower = voice.audio("Il gatto dorme sul divano.", "it", speed=0.8)
    assert len(slower) > len(a)


def test_japanese_kana_goes_through_the_japanese_phonemiser(voice):
    phonemes = voice.phonemes("えきはどこにありますか。", "ja")
    assert phonemes != espeak_phonemes("えきはどこにありますか。", "ja")
    assert {"k", "d", "o"} <= set(phonemes) and all(p in voice.vocab for p in phonemes)


class _Voice:
    def __init__(self, name: str):
        self.name = f"kokoro:{name}"

    def audio(self, text: str, lang: str, speed: float) -> np.ndarray:
        return np.full(int(speed * 1000), 0.1, np.float32)


def test_each_sentence_gets_distinct_kokoro_voices_at_a_speed_in_range():
    voices = {name: _Voice(name) for name in lc.KOKORO_TEST_VOICES}
    items = lc.kokoro_items("es", voices, 2, seed=4)
    assert len(items) == 2 * len(lc.TEST_SENTENCES)
    assert {i.text for i in items} == {lc.LANGUAGES["es"][k] for k in lc.TEST_SENTENCES}
    for text_id in {i.text_id for i in items}:
        assert len({i.voice for i in items if i.text_id == text_id}) == 2
    low, high = lc.KOKORO_SPEEDS
    assert all(low * 1000 - 1 <= len(i.audio) <= high * 1000 for i in items)
    assert [i.id for i in items] == [i.id for i in lc.kokoro_items("es", voices, 2, seed=4)]
