"""Evidence tab content without a browser: the reason shown when a workspace has no references."""
from __future__ import annotations

from curator.evidence import validation_or_reason


def test_a_workspace_without_references_gets_a_reason(tmp_workspace):
    table = tmp_workspace.read_scores().drop(columns="wer")
    reason = validation_or_reason(table)
    assert isinstance(reason, str) and "reference texts" in reason and "at least 10" in reason
