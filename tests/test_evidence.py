"""Evidence tab content without a browser: the reason shown when a workspace has no references, the
students' chart."""
from __future__ import annotations

import pandas as pd

from curator.evidence import students_figure, validation_or_reason


def test_a_workspace_without_references_gets_a_reason(tmp_workspace):
    table = tmp_workspace.read_scores().drop(columns="wer")
    reason = validation_or_reason(table)
    assert isinstance(reason, str) and "reference texts" in reason and "at least 10" in reason


def test_students_chart_shows_english_wer_when_the_study_gave_it():
    students = pd.DataFrame({"student": ["teacher", "all pseudo-labels"], "wer": [0.5, 0.9], "wer_english": [0.2, 0.4]})
    bar = students_figure(students).data[0]
    assert list(bar.y) == [0.2, 0.4] and list(bar.x) == ["teacher", "all pseudo-labels"]
    assert list(students_figure(students.drop(columns="wer_english")).data[0].y) == [0.5, 0.9]
