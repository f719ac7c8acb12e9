"""Identity, lineage and counts of the file being loaded, shared by readers and writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from shortpay.ingest.records import ParseIssue


@dataclass
class FileContext:
    """One inbox file during its load: identity, lineage and the counts written so far."""

    path: Path
    source_file: str
    file_hash: str
    run_id: str
    started_at: datetime
    rows: dict[str, int] = field(default_factory=dict)
    issue_count: int = 0
    payment_amount: Decimal = Decimal("0.00")

    def add_rows(self, table: str, count: int) -> None:
        """Add ``count`` rows written to ``raw.<table>``."""
        self.rows[table] = self.rows.get(table, 0) + count


ISSUE_SCHEMA = pa.schema(
    [
        ("file_hash", pa.string()),
        ("source_file", pa.string()),
        ("source_position", pa.string()),
        ("reason", pa.string()),
        ("severity", pa.string()),
        ("run_id", pa.string()),
        ("detected_at", pa.timestamp("us")),
    ]
)


def write_issues(
    con: duckdb.DuckDBPyConnection, context: FileContext, issues: list[ParseIssue]
) -> None:
    """Insert parse issues into raw.ingest_issues as one Arrow batch."""
    if not issues:
        return
    count = len(issues)
    table = pa.table(
        {
            "file_hash": [context.file_hash] * count,
            "source_file": [context.source_file] * count,
            "source_position": [issue.position for issue in issues],
            "reason": [issue.reason for issue in issues],
            "severity": [issue.severity for issue in issues],
            "run_id": [context.run_id] * count,
            "detected_at": [context.started_at] * count,
        },
        schema=ISSUE_SCHEMA,
    )
    con.register("ingest_issue_batch", table)
    try:
        con.execute("INSERT INTO raw.ingest_issues BY NAME SELECT * FROM ingest_issue_batch")
    finally:
        con.unregister("ingest_issue_batch")
    context.issue_count += count
