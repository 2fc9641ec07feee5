"""Whisper-style text normalisation, so that WER counts words, not punctuation, casing or spelling."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

SPELLINGS = ("whisper_normalizer", "normalizers/english.json")  # the package shipping Whisper's spelling map


@lru_cache(maxsize=None)
def american_spellings() -> dict[str, str]:
    """Whisper's British→American spelling map (1,739 words: "harbour" → "harbor"), as whisper-normalizer
    ships it."""
    package, resource = SPELLINGS
    return json.loads(files(package).joinpath(resource).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _normalizer(english: bool):
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer, EnglishTextNormalizer

    return EnglishTextNormalizer(american_spellings()) if english else BasicTextNormalizer()


def normalize(text: str, lang: str | None = "en") -> str:
    """Whisper's English normaliser for English (or unknown language), the basic one otherwise."""
    return " ".join(_normalizer(lang in (None, "", "en"))(text).split())
