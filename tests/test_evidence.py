"""Evidence tab content without a browser: the reason shown when a workspace has no references, the
students' chart."""
from __future__ import annotations

import pandas as pd
import pytest

from curator.evidence import students_figure, validation_or_reason


def test_a_workspace_without_references_gets_a_reason(tmp_workspace):
    table = tmp_workspace.read_scores().drop(columns="wer")
    reason = validation_or_reason(table)
    assert isinstance(reason, str) and "reference texts" in reason and "at least 10" in reason


def test_students_chart_groups_levels_with_intervals():
    students = pd.DataFrame({"level": ["–", "30% bad labels", "30% bad labels"], "student": ["teacher", "no filter", "recommended"],
                             "wer": [0.2, 0.4, 0.3], "low": [None, 0.35, 0.26], "high": [None, 0.45, 0.33]})
    figure = students_figure(students)
    assert [bar.name for bar in figure.data] == ["–", "30% bad labels"]
    study = figure.data[1]
    assert list(study.y) == [0.4, 0.3] and list(study.error_y.array) == pytest.approx([0.05, 0.03])
    assert figure.data[0].error_y.array is None  # the teacher row has no interval
