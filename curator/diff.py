"""Word-level diff of two transcripts as HTML: what one has that the other lacks, coloured."""
from __future__ import annotations

import re
from difflib import SequenceMatcher
from html import escape

from engine.text import american_spellings

DELETED = "background:#fee2e2;color:#b91c1c;text-decoration:line-through;padding:0 2px;border-radius:3px"
INSERTED = "background:#dcfce7;color:#15803d;text-decoration:none;padding:0 2px;border-radius:3px"
LEGEND = (f"From the first text to the second: <span style='{DELETED}'>deleted</span> "
          f"<span style='{INSERTED}'>inserted</span> (words compared ignoring case, punctuation and "
          "British/American spelling)")


def _key(word: str) -> str:
    bare = re.sub(r"[^\w']", "", word.lower())
    return american_spellings().get(bare, bare)


def word_diff_html(first: str, second: str) -> str:
    """`second` word by word against `first`: words only in `first` struck through in red, words only in
    `second` in green, shared words plain. HTML-escaped."""
    a, b = first.split(), second.split()
    spans = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, [_key(w) for w in a], [_key(w) for w in b], autojunk=False).get_opcodes():
        if op == "equal":
            spans.append(escape(" ".join(b[j1:j2])))
            continue
        if i2 > i1:
            spans.append(f"<del style='{DELETED}'>{escape(' '.join(a[i1:i2]))}</del>")
        if j2 > j1:
            spans.append(f"<ins style='{INSERTED}'>{escape(' '.join(b[j1:j2]))}</ins>")
    return " ".join(spans)
