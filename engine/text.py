"""Whisper-style text normalisation, so that WER counts words, not punctuation or casing."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def _normalizer(english: bool):
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer, EnglishTextNormalizer

    # The British→American spelling map ships on the hub only; numbers, contractions and
    # abbreviations are still normalised.
    return EnglishTextNormalizer({}) if english else BasicTextNormalizer()


def normalize(text: str, lang: str | None = "en") -> str:
    """Whisper's English normaliser for English (or unknown language), the basic one otherwise."""
    return " ".join(_normalizer(lang in (None, "", "en"))(text).split())
