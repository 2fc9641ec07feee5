"""Which languages hama's phonemes can check: phoneme error rate of the right label against the
wrong ones (the other sentences of the same language) on espeak-ng speech, per language.

A language is usable when right labels score clearly below wrong ones, and comparable with
English when they score about as low as English right labels do (engine/phonemes.py LANGUAGES).

    python -m benchmarks.phoneme_languages   (from the repository root; needs espeak-ng)
"""
from __future__ import annotations

import numpy as np

from benchmarks.corpus_audio import espeak_audio, require_espeak_ng
from engine.extras.phonemes import heard_units, load_model, text_units
from engine.scores.phoneme_proxy import phoneme_error_rate

SENTENCES = {
    "en": ("The weather was cold and windy all day long.", "She bought fresh bread at the market this morning.",
           "Please close the door when you leave the room.", "My brother plays the guitar every evening."),
    "de": ("Das Wetter war den ganzen Tag kalt und windig.", "Sie kaufte heute Morgen frisches Brot auf dem Markt.",
           "Bitte schließen Sie die Tür, wenn Sie gehen.", "Mein Bruder spielt jeden Abend Gitarre."),
    "es": ("El tiempo estuvo frío y ventoso todo el día.", "Ella compró pan fresco en el mercado esta mañana.",
           "Por favor cierra la puerta cuando salgas.", "Mi hermano toca la guitarra todas las noches."),
    "fr": ("Le temps était froid et venteux toute la journée.", "Elle a acheté du pain frais au marché ce matin.",
           "Fermez la porte quand vous partez, s'il vous plaît.", "Mon frère joue de la guitare tous les soirs."),
    "it": ("Il tempo è stato freddo e ventoso tutto il giorno.", "Ha comprato pane fresco al mercato stamattina.",
           "Per favore chiudi la porta quando esci.", "Mio fratello suona la chitarra ogni sera."),
    "pt": ("O tempo esteve frio e ventoso o dia todo.", "Ela comprou pão fresco no mercado esta manhã.",
           "Por favor feche a porta quando sair.", "Meu irmão toca violão todas as noites."),
    "nl": ("Het weer was de hele dag koud en winderig.", "Ze kocht vanochtend vers brood op de markt.",
           "Doe alsjeblieft de deur dicht als je weggaat.", "Mijn broer speelt elke avond gitaar."),
    "ko": ("오늘은 하루 종일 춥고 바람이 불었어요.", "그녀는 오늘 아침 시장에서 빵을 샀어요.",
           "나갈 때 문을 닫아 주세요.", "우리 형은 매일 저녁 기타를 쳐요."),
    "th": ("วันนี้อากาศหนาวและลมแรงทั้งวัน", "เธอซื้อขนมปังที่ตลาดเมื่อเช้านี้",
           "กรุณาปิดประตูเมื่อคุณออกไป", "พี่ชายของฉันเล่นกีตาร์ทุกเย็น"),
    "ru": ("Весь день было холодно и ветрено.", "Сегодня утром она купила свежий хлеб на рынке.",
           "Пожалуйста, закройте дверь, когда уходите.", "Мой брат играет на гитаре каждый вечер."),
}


def main() -> None:
    require_espeak_ng()
    model = load_model()
    print("| language | PER right label | PER wrong labels | worst right / best wrong |\n| --- | --- | --- | --- |")
    for lang, sentences in SENTENCES.items():
        heard = [heard_units(model.log_posteriors(espeak_audio(s, lang, 160))) for s in sentences]
        labels = [text_units(s) for s in sentences]
        pairs = [(i, j) for i in range(len(sentences)) for j in range(len(sentences))]
        per = phoneme_error_rate([labels[j] for _, j in pairs], [heard[i] for i, _ in pairs])
        right = np.array([i == j for i, j in pairs])
        print(f"| {lang} | {per[right].mean():.2f} | {per[~right].mean():.2f} | "
              f"{per[right].max():.2f} / {per[~right].min():.2f} |")


if __name__ == "__main__":
    main()
