"""Readers, a reviewer and a rebuild running at once in separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shortpay.review.log import read_decisions, verify_chain

ROLES = Path(__file__).with_name("concurrent_roles.py")
DECISIONS = 20


def start(role: str, warehouse: Path, amount: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROLES), role, str(warehouse), amount],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_reader_reviewer_and_rebuild_together(paths):
    reader = start("read", paths.warehouse, "3")
    writer = start("rebuild", paths.warehouse, "3")
    reviewer = start("review", paths.warehouse, str(DECISIONS))

    reviewed = finish(reviewer)
    read = finish(reader)
    rebuilt = finish(writer)

    assert read["errors"] == 0, read["messages"]
    assert read["queries"] > 0
    assert rebuilt["rebuilds"] > 1
    assert reviewed == {"appended": DECISIONS, "failed": 0}
    decisions = read_decisions(paths.state_db)
    assert len(decisions) == DECISIONS
    assert [item.reason for item in decisions] == [f"note {index}" for index in range(DECISIONS)]
    assert verify_chain(decisions) == []
    counts = rebuilt["snapshot_counts"]
    assert counts == sorted(counts)
    assert all(0 <= count <= DECISIONS for count in counts)
