"""The multilingual corpus of the experts benchmark: German, French and English, to train on and to test on.

Training sentences are made from a small grammar per language (subject, predicate, adverbial: 8 × 8 × 6
sentences), spoken by the study's pool voices; test sentences are the study's hand-written ones (German and
French from `study_corpus.OTHER_LANGUAGES`, English from its test half), spoken by its test voices, so the
test set shares no sentence and no voice with training. All espeak-ng.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.corpus_audio import require_espeak_ng, seeded_rng  # noqa: E402
from benchmarks.study_corpus import ENGLISH, OTHER_LANGUAGES, PARTS, Item, Voices, spoken, written_split  # noqa: E402

GRAMMAR = {
    "de": (("Der Lehrer", "Meine Nachbarin", "Das kleine Kind", "Unser Arzt", "Die alte Frau", "Der Bäcker",
            "Mein Kollege", "Die Studentin"),
           ("kauft frisches Brot", "liest eine Zeitung", "trinkt einen Kaffee", "wartet auf den Bus",
            "schreibt einen langen Brief", "repariert das Fahrrad", "besucht die Großeltern", "kocht eine Suppe"),
           ("am Morgen", "jeden Sonntag", "in der Stadt", "nach der Arbeit", "im Garten", "vor dem Bahnhof")),
    "fr": (("Le professeur", "Ma voisine", "Le petit garçon", "Notre médecin", "La vieille dame", "Le boulanger",
            "Mon collègue", "L'étudiante"),
           ("achète du pain frais", "lit un journal", "boit un café", "attend le bus", "écrit une longue lettre",
            "répare le vélo", "rend visite à ses grands-parents", "prépare une soupe"),
           ("le matin", "chaque dimanche", "en ville", "après le travail", "dans le jardin", "devant la gare")),
    "en": (("The teacher", "My neighbour", "The little boy", "Our doctor", "The old lady", "The baker",
            "My colleague", "The student"),
           ("buys fresh bread", "reads a newspaper", "drinks a coffee", "waits for the bus", "writes a long letter",
            "repairs the bicycle", "visits the grandparents", "makes a soup"),
           ("in the morning", "every Sunday", "in town", "after work", "in the garden", "outside the station")),
}
LANGUAGES = tuple(GRAMMAR)  # de and fr are the targets; English must not get worse
TARGETS = ("de", "fr")
TEST_ENGLISH = 8  # English test sentences, as many as each other language has


def grammar_sentences(lang: str) -> list[str]:
    """Every sentence of `lang`'s grammar: subject, predicate, adverbial."""
    return [f"{s} {p} {a}." for s, p, a in itertools.product(*GRAMMAR[lang])]


def test_sentences(lang: str) -> list[tuple[str, str]]:
    """(text id, text) of `lang`'s test sentences."""
    if lang == "en":
        pool = PARTS["test"].english
        picked = [pool[round(i * (len(pool) - 1) / (TEST_ENGLISH - 1))] for i in range(TEST_ENGLISH)]
        return [(f"en-{k:03d}", ENGLISH[k]) for k in picked]
    return [(f"{lang}-{k:03d}", text) for k, text in enumerate(OTHER_LANGUAGES[lang])]


def train_items(lang: str, count: int, seed: int) -> list[Item]:
    """`count` grammar sentences of `lang` (a random draw without repeats), each in a random pool voice."""
    rng = seeded_rng(seed, f"experts-train-{lang}")
    sentences = grammar_sentences(lang)
    voices = Voices(PARTS["all"].pool_voices.accents, PARTS["all"].pool_voices.variants)
    return [spoken(f"train-{lang}-{i:04d}", sentences[k], lang, f"{lang}-grammar-{k:03d}", voices, rng)
            for i, k in enumerate(rng.choice(len(sentences), count, replace=False))]


def test_items(lang: str, variants: int, seed: int) -> list[Item]:
    """Each test sentence of `lang` in `variants` distinct test voices."""
    rng = seeded_rng(seed, f"experts-test-{lang}")
    test_voices = PARTS["all"].test_voices
    items = []
    for text_id, text in test_sentences(lang):
        for v, variant in enumerate(rng.choice(test_voices.variants, variants, replace=False)):
            voices = Voices(test_voices.accents, (str(variant),))
            items.append(spoken(f"test-{lang}-{text_id}-{v}", text, lang, text_id, voices, rng))
    return items


def build(out: Path, per_language: int, variants: int, seed: int) -> None:
    """out/train and out/test (FLAC + manifest.jsonl), unless out/test exists already."""
    if (out / "test" / "manifest.jsonl").is_file():
        return
    require_espeak_ng()
    written_split([i for lang in LANGUAGES for i in train_items(lang, per_language, seed)], out / "train")
    written_split([i for lang in LANGUAGES for i in test_items(lang, variants, seed)], out / "test")
