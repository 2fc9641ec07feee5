"""The workspace at a glance: clips, hours, languages, statuses, reasons, which scores exist."""
from __future__ import annotations

import pandas as pd

from engine.extras.proxy import unread_languages_note
from engine.io.workspace import BASE_COLUMNS
from engine.scores import HIGHER_IS_BETTER, RECOMMENDED


def score_columns(table: pd.DataFrame) -> list[str]:
    """Numeric score columns present in the table: registry ones in registry order, then the others by name."""
    numeric = [c for c in table.columns if c not in BASE_COLUMNS and pd.api.types.is_numeric_dtype(table[c])]
    registry = list(HIGHER_IS_BETTER)
    return sorted(numeric, key=lambda c: (registry.index(c) if c in HIGHER_IS_BETTER else len(registry), c))


def default_column(table: pd.DataFrame) -> str | None:
    """The score a view opens on: the recommended one (`RECOMMENDED`) when the table has it, else its first
    score in registry order (`confidence` for a workspace scored without extras); None without scores."""
    columns = score_columns(table)
    return RECOMMENDED if RECOMMENDED in columns else next(iter(columns), None)


def summary_markdown(table: pd.DataFrame) -> str:
    """A few lines of Markdown describing the workspace's table."""
    if table.empty:
        return "This workspace has no clips yet. Run `whisper-curator score INPUT --workspace WS` first."
    hours = table["duration"].fillna(0).sum() / 3600
    statuses = table["status"].value_counts()
    langs = table["lang"].fillna("unknown").value_counts().head(6)
    reasons = table.loc[table["status"] != "ok", "reason"].value_counts().head(5)
    lines = [
        f"**{len(table)} clips**, {hours:.2f} h · "
        + " · ".join(f"{statuses.get(s, 0)} {s}" for s in ("ok", "flagged", "error")),
        "**Languages:** " + ", ".join(f"{lang} ({n})" for lang, n in langs.items()),
        "**Scores:** " + (", ".join(f"`{c}`" for c in score_columns(table)) or "none yet"),
    ]
    if len(reasons):
        lines.append("**Why clips were flagged:** " + "; ".join(f"{r} ({n})" for r, n in reasons.items()))
    note = unread_languages_note(table) if "proxy_model" in table else None
    if note:
        lines.append("**Proxy:** " + note.removeprefix("proxy: "))
    return "\n\n".join(lines)
