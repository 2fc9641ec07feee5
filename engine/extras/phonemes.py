"""Phonemes from `hama` 1.7.0: G2P of pseudo-labels and phoneme CTC posteriors of audio, for the
`phoneme` (proxy_per) and `align` (align_score) score groups; one model per process, shared.

Languages. hama's G2P reads Latin, Hangul, kana, Han and Thai script (Cyrillic or Arabic text comes
out as Chinese-like junk) with no language switch: Latin text is mostly read as English. Its CTC
recogniser emits only the 43 phonemes of `UNITS` (English ones, plus a, e, o), hearing every
language as English. Phoneme error rate of the right label / of wrong ones (other sentences) on
espeak-ng speech, 4 sentences a language (benchmarks/phoneme_languages.py): English 0.17 / 0.94;
German 0.60 / 1.01, Dutch 0.67 / 0.96, Italian 0.69 / 1.02, Portuguese 0.74 / 0.95, Spanish 0.75 /
1.02, Korean 0.77 / 0.98, French 0.92 / 1.17, Thai 0.88 / 0.97, Russian 1.33 / 1.33. Outside English
a right label thus scores like a wrong English one, so only `LANGUAGES` are scored; other clips get
NaN (an empty label is scored in any language: it needs no reading, only "does the recogniser hear
speech").

Labels are prepared as hama needs: numbers spelled out (its G2P reads digits as Chinese),
punctuation dropped (it turns it into phonemes), one word at a time (cached), and only phonemes
the recogniser knows kept (diacritics stripped, a few equivalents mapped, the rest dropped).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.extras import Batch, ExtraOptions, Scorer

LANGUAGES = frozenset({"en"})
# What the recogniser emits (its argmax on English, German, Spanish, French, Italian, Portuguese,
# Dutch, Korean, Thai and Russian speech); its other outputs never win a frame.
UNITS = ("a", "aɪ", "aʊ", "b", "d", "d͡ʒ", "e", "eɪ", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "oʊ",
         "p", "s", "t", "t͡ʃ", "u", "v", "w", "z", "æ", "ð", "ŋ", "ɑ", "ɔ", "ɔɪ", "ə", "ɛ", "ɝ", "ɪ", "ɹ", "ʃ",
         "ʊ", "ʌ", "ʒ", "θ")
UNIT_IDS = {u: i + 1 for i, u in enumerate(UNITS)}  # posterior column of each unit; column 0 is blank
EQUIVALENT = {"ɡ": "g", "ɚ": "ɝ", "ɜ": "ɝ", "r": "ɹ"}  # same English phoneme, another symbol
SILENT = ("<blank>", "<wb>")  # recogniser outputs that mean "no new phoneme": both count as blank

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
             "nine": "ninth", "twelve": "twelfth"}
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(st|nd|rd|th)?", re.IGNORECASE)  # 1,200.5 3rd
_NOT_WORD = re.compile(r"[^\w']+|_")


def cardinal(n: int) -> str:
    """An integer in English words: 215 → "two hundred fifteen"."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + (f" {_ONES[n % 10]}" if n % 10 else "")
    if n < 1000:
        return f"{_ONES[n // 100]} hundred" + (f" {cardinal(n % 100)}" if n % 100 else "")
    if n >= 1000 * _SCALES[0][0]:
        return " ".join(_ONES[int(d)] for d in str(n))
    scale, name = next((s, w) for s, w in _SCALES if n >= s)
    return f"{cardinal(n // scale)} {name}" + (f" {cardinal(n % scale)}" if n % scale else "")


def _year(n: int) -> str:
    """1990 → "nineteen ninety", 1905 → "nineteen oh five", 1900 → "nineteen hundred"."""
    century, rest = divmod(n, 100)
    tail = "hundred" if rest == 0 else f"oh {_ONES[rest]}" if rest < 10 else cardinal(rest)
    return f"{cardinal(century)} {tail}"


def _spoken_number(match: re.Match) -> str:
    whole, decimals, ordinal = match.group(1), match.group(2), match.group(3)
    n = int(whole.replace(",", ""))
    if ordinal and not decimals:
        *head, last = cardinal(n).split()
        last = _ORDINALS.get(last, last[:-1] + "ieth" if last.endswith("y") else last + "th")
        return " " + " ".join([*head, last]) + " "
    if decimals:
        words = f"{cardinal(n)} point " + " ".join(_ONES[int(d)] for d in decimals)
    elif len(whole) == 4 and (1100 <= n < 2000 or 2010 <= n < 2100):
        words = _year(n)
    else:
        words = cardinal(n)
    return f" {words} "


def spoken_words(text: str) -> list[str]:
    """An English label as the lower-case words a reader says: numbers spelled out, punctuation
    and symbols dropped ("%" read as "percent", "&" as "and"), apostrophes kept inside words."""
    text = text.replace("%", " percent ").replace("&", " and ")
    text = _NUMBER.sub(_spoken_number, text)
    return [w.strip("'") for w in _NOT_WORD.sub(" ", text.lower()).split() if w.strip("'")]


def _bare(phoneme: str) -> str:
    """A phoneme without diacritics, length or tone marks (tie bars kept: t͡ʃ stays one unit)."""
    return "".join(c for c in unicodedata.normalize("NFD", phoneme)
                   if c == "\u0361" or unicodedata.category(c) not in ("Mn", "Lm", "Sk", "No"))


def recogniser_unit(phoneme: str) -> str | None:
    """A G2P phoneme as one of `UNITS`: itself, without diacritics, or its English equivalent; None if none."""
    for candidate in (phoneme, _bare(phoneme)):
        candidate = EQUIVALENT.get(candidate, candidate)
        if candidate in UNIT_IDS:
            return candidate
    return None


@dataclass(frozen=True)
class PhonemeModel:
    """hama's G2P and CTC phoneme recogniser, with the recogniser's outputs merged into `UNITS`."""

    g2p: object  # hama.G2PModel
    asr: object  # hama.ASRModel
    merge: np.ndarray  # (recogniser outputs, 1 + len(UNITS)): 1 where an output counts as that column

    def log_posteriors(self, samples: np.ndarray) -> np.ndarray:
        """Frame log-posteriors (T, 1 + len(UNITS)) of 16 kHz audio, one frame per 20 ms;
        column 0 is blank (blank or word boundary), column i the unit `UNITS[i - 1]`; rows sum to 1."""
        wav = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)[None]
        log_probs, lengths = self.asr.session.run(["log_probs", "out_lengths"],
                                                  {"waveform": wav, "waveform_lengths": np.array([wav.shape[1]])})
        probs = np.exp(log_probs[0, : int(lengths[0])].astype(np.float64)) @ self.merge
        with np.errstate(divide="ignore"):
            return np.log(probs) - np.log(probs.sum(axis=1, keepdims=True))

    def word_units(self, word: str) -> tuple[str, ...]:
        """One lower-case word's phonemes as `UNITS`, unknown ones dropped."""
        result = self.g2p.predict(word)
        # Words hama reads as foreign come out one symbol at a time, space-separated.
        phonemes = result.ipa.split() if " " in result.ipa else [a.phoneme for a in result.alignments]
        return tuple(u for u in map(recogniser_unit, phonemes) if u)


@lru_cache(maxsize=1)
def load_model() -> PhonemeModel:
    """hama's G2P and recogniser from the package's own weights (about 0.1 s), once per process."""
    from hama import ASRModel, G2PModel

    asr = ASRModel()
    merge = np.zeros((len(asr.decoder_tokens), 1 + len(UNITS)))
    for row, token in enumerate(asr.decoder_tokens):
        column = 0 if token in SILENT else UNIT_IDS.get(EQUIVALENT.get(token, token))
        if column is not None:
            merge[row, column] = 1.0
    return PhonemeModel(G2PModel(), asr, merge)


@lru_cache(maxsize=1 << 16)
def _cached_word_units(word: str) -> tuple[str, ...]:
    return load_model().word_units(word)


def text_units(text: str) -> list[str]:
    """The units a text sounds as when read as English."""
    return [u for word in spoken_words(text) for u in _cached_word_units(word)]


def label_units(label: str, lang: str | None) -> list[str] | None:
    """The units a label should sound as; [] for an empty label, None for a language not in `LANGUAGES`."""
    if not label.strip():
        return []
    return text_units(label) if lang in LANGUAGES else None


def heard_units(log_probs: np.ndarray) -> list[str]:
    """The units on the recogniser's best path (greedy CTC decoding)."""
    from engine.scores.align import best_path

    return [UNITS[i - 1] for i in best_path(log_probs)]


def _batch_units(batch: Batch) -> list[list[str] | None]:
    return [label_units(label, lang) for label, lang in zip(batch.labels, batch.langs)]


def phoneme_scorer(options: ExtraOptions) -> Scorer:
    """`phoneme` group: proxy_per, the label's phonemes against the recogniser's (CPU, one thread)."""
    from engine.scores.phoneme_proxy import phoneme_error_rate

    model = load_model()

    def score(batch: Batch) -> dict[str, np.ndarray]:
        labels = _batch_units(batch)
        heard = [heard_units(model.log_posteriors(s)) if u is not None else [] for u, s in zip(labels, batch.samples)]
        return {"proxy_per": phoneme_error_rate(labels, heard)}

    return score


def align_scorer(options: ExtraOptions) -> Scorer:
    """`align` group: align_score, CTC forced alignment of the label's phonemes (CPU, one thread)."""
    from engine.scores.align import align_score

    model = load_model()

    def score(batch: Batch) -> dict[str, np.ndarray]:
        labels = _batch_units(batch)
        empty = np.zeros((0, 1 + len(UNITS)))
        posteriors = [model.log_posteriors(s) if u is not None else empty for u, s in zip(labels, batch.samples)]
        targets = [[UNIT_IDS[x] for x in u] if u is not None else None for u in labels]
        return {"align_score": align_score(posteriors, targets)}

    return score
