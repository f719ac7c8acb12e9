"""load_inbox: raw tables, ledger, duplicates, unsupported files and restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb

from shortpay.ingest.loader import load_inbox
from shortpay.ingest.schema import table_columns

D = Decimal


def test_loader_creates_every_raw_table(inbox: Path, work_db: Path, query) -> None:
    summary = load_inbox(inbox, work_db, "run-1")
    assert summary.files_seen == 0
    for table, columns in table_columns().items():
        described = query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
        expected = [(name, sql_type.replace(", ", ",")) for name, sql_type in columns]
        assert described == expected, table


def test_loader_adds_new_columns_to_old_tables(inbox: Path, work_db: Path, query) -> None:
    """A raw.payments table made before payer_account existed gets the column, empty."""
    with duckdb.connect(str(work_db)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.payments (payment_id VARCHAR, bank_account VARCHAR)")
        con.execute("INSERT INTO raw.payments VALUES ('P-OLD', 'ACC-1')")
    load_inbox(inbox, work_db, "run-1")
    assert query("SELECT payment_id, bank_account, payer_account FROM raw.payments") == [
        ("P-OLD", "ACC-1", None)
    ]


def test_loader_exact_lineage_columns(inbox: Path, work_db: Path, query) -> None:
    load_inbox(inbox, work_db, "run-1")
    payment_columns = [
        row[0]
        for row in query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = 'payments' ORDER BY ordinal_position"
        )
    ]
    assert payment_columns == [
        "payment_id",
        "payment_amount",
        "currency",
        "payment_date",
        "customer_id",
        "payer_id",
        "payer_name",
        "payee_name",
        "payment_method",
        "trace_number",
        "bank_account",
        "payer_account",
        "is_reversal",
        "value_date",
        "memo",
        "source_format",
        "fingerprint",
        "source_file",
        "file_hash",
        "source_position",
    ]
    file_columns = [
        row[0]
        for row in query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = 'files' ORDER BY ordinal_position"
        )
    ]
    assert file_columns == [
        "file_hash",
        "source_file",
        "format",
        "size_bytes",
        "status",
        "reason",
        "records_loaded",
        "run_id",
        "loaded_at",
    ]


def test_loader_public_x12_folder(public_data: Path, inbox: Path, work_db: Path, query) -> None:
    for name in ("x12.820.issue140.edi",):
        (inbox / "edi").mkdir(exist_ok=True)
        (inbox / "edi" / name).write_bytes(
            (public_data / "x12_820/indice-co_EDI.Net" / name).read_bytes()
        )
    for name in ("Example3_HomeDepot.txt", "Example4_Safeway.txt"):
        source = public_data / "x12_820/Inteligenz_X12Parser" / name
        (inbox / name).write_bytes(source.read_bytes())
    summary = load_inbox(inbox, work_db, "run-1")
    assert (summary.files_seen, summary.files_loaded, summary.files_rejected) == (3, 2, 1)
    assert summary.payments == 2
    assert summary.payment_amount == D("437392.12")
    assert summary.remittance_lines == 13
    assert summary.adjustments == 5
    assert query(
        "SELECT source_file, format, status, records_loaded FROM raw.files ORDER BY source_file"
    ) == [
        ("Example3_HomeDepot.txt", "x12_820", "rejected", 0),
        ("Example4_Safeway.txt", "x12_820", "loaded", 11),
        ("edi/x12.820.issue140.edi", "x12_820", "loaded", 9),
    ]
    assert query(
        "SELECT payment_id, payment_amount, source_format, source_position "
        "FROM raw.payments ORDER BY payment_id"
    ) == [
        ("4311000190", D("416093.15"), "x12_820", "segment 4"),
        ("4529952", D("21298.97"), "x12_820", "segment 4"),
    ]
    assert query(
        "SELECT amount, reason_code, line_number FROM raw.adjustments WHERE payment_id = '4529952'"
    ) == [(D("143.76"), "59", 1)]
    assert query("SELECT reason FROM raw.files WHERE status = 'rejected'") == [
        ("BPR02 at segment 4 is not a number: 'TOTAL DOLLAR AMT OF CHECK'",),
    ]


def test_loader_same_bytes_loaded_once(cases: Path, inbox: Path, work_db: Path, query) -> None:
    data = (cases / "csv/remittances_mixed.csv").read_bytes()
    (inbox / "remittances_a.csv").write_bytes(data)
    (inbox / "later").mkdir()
    (inbox / "later" / "remittances_b.csv").write_bytes(data)
    first = load_inbox(inbox, work_db, "run-1")
    assert (first.files_seen, first.files_loaded, first.files_duplicate) == (2, 1, 1)
    second = load_inbox(inbox, work_db, "run-2")
    assert (second.files_seen, second.files_loaded, second.files_duplicate) == (2, 0, 2)
    assert second.payments == 0
    assert query("SELECT count(*) FROM raw.payments") == [(3,)]
    assert query("SELECT source_file, run_id FROM raw.files") == [
        ("remittances_a.csv", "run-1")
    ]


def test_loader_rewritten_file_read_again(inbox: Path, work_db: Path, query) -> None:
    """A file rewritten in place with the same size and modification time is read again."""
    header = "invoice_id,customer_id,invoice_date,due_date,currency,total_amount,payment_terms\n"
    path = inbox / "invoices.csv"
    path.write_text(header + "A-1,CA,2026-10-01,2026-10-31,USD,100.00,NET 30\n", encoding="utf-8")
    load_inbox(inbox, work_db, "run-1")
    [(stat_key, first_hash)] = query("SELECT stat_key, file_hash FROM raw.file_stats")

    unchanged = load_inbox(inbox, work_db, "run-2")
    assert unchanged.files_duplicate == 1
    assert unchanged.files_loaded == 0
    assert query("SELECT stat_key, file_hash FROM raw.file_stats") == [(stat_key, first_hash)]

    before = path.stat()
    path.write_text(header + "A-1,CA,2026-10-01,2026-10-31,USD,900.00,NET 30\n", encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    rewritten = load_inbox(inbox, work_db, "run-3")

    assert rewritten.files_duplicate == 0
    assert rewritten.files_loaded == 1
    assert rewritten.invoices == 1
    assert query("SELECT total_amount FROM raw.invoices ORDER BY total_amount") == [
        (D("100.00"),), (D("900.00"),),
    ]
    [(_, second_hash)] = query("SELECT stat_key, file_hash FROM raw.file_stats")
    assert second_hash != first_hash


def test_loader_rejected_file_not_retried(cases: Path, load, query) -> None:
    load(cases / "csv/invoice_lines_missing_column.csv", run_id="run-1")
    summary = load(run_id="run-2")
    assert summary.files_duplicate == 1
    assert summary.files_rejected == 0
    assert query("SELECT count(*) FROM raw.files") == [(1,)]


def test_loader_unsupported_file(inbox: Path, work_db: Path, query) -> None:
    (inbox / "notes.pdf").write_bytes(b"%PDF-1.4")
    (inbox / "readme.txt").write_text("not X12")
    (inbox / ".DS_Store").write_bytes(b"\x00")
    summary = load_inbox(inbox, work_db, "run-1")
    assert (summary.files_seen, summary.files_unsupported, summary.issues) == (2, 2, 2)
    assert query("SELECT source_file, format, status FROM raw.files ORDER BY source_file") == [
        ("notes.pdf", "unknown", "unsupported"),
        ("readme.txt", "unknown", "unsupported"),
    ]
    assert query("SELECT DISTINCT severity FROM raw.ingest_issues") == [("warning",)]
    again = load_inbox(inbox, work_db, "run-2")
    assert again.files_unsupported == 2
    assert query("SELECT count(*) FROM raw.files") == [(2,)]
    assert query("SELECT count(*) FROM raw.ingest_issues") == [(2,)]


def test_loader_orders_files_by_name(inbox: Path, work_db: Path, query) -> None:
    """A later day's extract in a sub-folder loads after an earlier one at the top."""
    header = "invoice_id,customer_id,invoice_date,due_date,currency,total_amount,payment_terms\n"
    (inbox / "invoices_2026-11-01.csv").write_text(
        header + "A-1,CA,2026-10-01,2026-10-31,USD,100.00,NET 30\n", encoding="utf-8")
    (inbox / "2026-11-02").mkdir()
    (inbox / "2026-11-02" / "invoices_2026-11-02.csv").write_text(
        header + "A-1,CA,2026-10-01,2026-10-31,USD,90.00,NET 30\n", encoding="utf-8")
    load_inbox(inbox, work_db, "run-1")
    assert query("SELECT source_file FROM raw.files ORDER BY loaded_at") == [
        ("invoices_2026-11-01.csv",),
        ("2026-11-02/invoices_2026-11-02.csv",),
    ]


def test_summary_as_dict_json_safe(cases: Path, load) -> None:
    summary = load(cases / "csv/remittances_mixed.csv")
    values = summary.as_dict()
    assert values["payment_amount"] == "2375.00"
    assert values["payments"] == 3
    assert json.loads(json.dumps(values)) == values
    assert set(values) >= {
        "files_seen",
        "files_loaded",
        "files_rejected",
        "files_duplicate",
        "files_unsupported",
        "payments",
        "payment_amount",
        "remittance_lines",
        "adjustments",
        "debit_memos",
        "issues",
        "customers",
        "invoices",
        "invoice_lines",
        "shipments",
        "promotions",
        "prices",
    }


CRASHING_RUN = """
import os, sys
from pathlib import Path
import shortpay.ingest.writer as writer
from shortpay.ingest import loader

real_write = writer.write_parse_result
calls = []

def write_then_die(con, context, result):
    real_write(con, context, result)
    calls.append(context.source_file)
    if len(calls) == 2:
        os._exit(9)  # the process dies inside the second file's transaction

loader.write_parse_result = write_then_die
loader.load_inbox(Path(sys.argv[1]), Path(sys.argv[2]), "run-crashed")
"""


def test_loader_killed_run_restarts_cleanly(cases: Path, inbox: Path, work_db: Path, query) -> None:
    for name in ("two_interchanges.x12", "se_count_wrong.edi", "invoice_810.edi"):
        (inbox / name).write_bytes((cases / "x12" / name).read_bytes())
    (inbox / "remittances.csv").write_bytes((cases / "csv/remittances_mixed.csv").read_bytes())
    (inbox / "z_copy.x12").write_bytes(
        (cases / "x12/two_interchanges.x12")
        .read_bytes()
        .replace(b"PAY-000", b"PAY-100")
        .replace(b"2026120", b"2026110")
        .replace(b"|91|0010~", b"|91|0011~")
    )
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, str(inbox), str(work_db)],
        env={**os.environ},
        capture_output=True,
        check=False,
    )
    assert crashed.returncode == 9, crashed.stderr.decode()
    # The first X12 file and the files before it were committed; the second X12 file was not.
    with duckdb.connect(str(work_db), read_only=True) as con:
        loaded_before = con.execute("SELECT count(*) FROM raw.files").fetchone()[0]
        payments_before = con.execute("SELECT count(*) FROM raw.payments").fetchone()[0]
    assert loaded_before == 4
    assert payments_before == 3 + 3
    summary = load_inbox(inbox, work_db, "run-2")
    assert summary.files_duplicate == 4
    assert summary.files_loaded == 1
    assert query("SELECT count(*) FROM raw.payments") == [(9,)]
    assert query("SELECT count(*), count(DISTINCT payment_id) FROM raw.payments") == [(9, 9)]
    assert query("SELECT count(*) FROM raw.remittance_lines WHERE payment_id LIKE 'PAY-1%'") == [
        (4,)
    ]


INTERRUPTED_RUN = """
import signal, sys
from pathlib import Path
from shortpay.ingest import loader

# A background job inherits SIGINT ignored or blocked. Restore what a
# terminal's Ctrl-C meets: Python's own handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
real_load = loader.load_remittance_csv

def load_then_wait(con, context, csv_path, data):
    real_load(con, context, csv_path, data)
    con.execute("CREATE TEMP TABLE numbers AS SELECT range AS i FROM range(1000)")
    print("querying", flush=True)
    # DuckDB 2.0.1 may hang on Ctrl-C in a scan of range(); a join of tables stops.
    con.execute("SELECT max(a.i * b.i + c.i) FROM numbers a, numbers b, numbers c").fetchall()

loader.load_remittance_csv = load_then_wait
loader.load_inbox(Path(sys.argv[1]), Path(sys.argv[2]), "run-interrupted")
"""


def test_loader_interrupt_stops_without_rejecting(cases: Path, inbox: Path, work_db: Path, query) -> None:
    """DuckDB reports Ctrl-C as an error; the file is not marked rejected for it."""
    (inbox / "remittances.csv").write_bytes((cases / "csv/remittances_mixed.csv").read_bytes())
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_RUN, str(inbox), str(work_db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Ctrl-C comes while DuckDB runs a query inside the file's transaction.
    assert process.stdout.readline() == b"querying\n"
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    try:
        _, errors = process.communicate(timeout=120)
    finally:
        process.kill()  # a child that did not stop must not outlive the test

    assert process.returncode != 0
    assert b"KeyboardInterrupt" in errors
    assert query("SELECT count(*) FROM raw.files") == [(0,)]

    summary = load_inbox(inbox, work_db, "run-2")

    assert summary.files_loaded == 1
    assert summary.files_rejected == 0
    assert query("SELECT source_file, status FROM raw.files") == [("remittances.csv", "loaded")]
    assert query("SELECT count(*) FROM raw.payments") == [(3,)]


def test_loader_empty_files_named_empty(inbox: Path, work_db: Path, query) -> None:
    """Two empty files share one hash; each is reported as empty, once."""
    (inbox / "empty.820").write_bytes(b"")
    (inbox / "remittances_empty.csv").write_bytes(b"")
    first = load_inbox(inbox, work_db, "run-1")
    assert (first.files_rejected, first.files_duplicate) == (2, 0)

    again = load_inbox(inbox, work_db, "run-2")

    assert (again.files_rejected, again.files_duplicate) == (0, 2)
    assert query("SELECT source_file, status, reason FROM raw.files ORDER BY source_file") == [
        ("empty.820", "rejected", "the file is empty"),
        ("remittances_empty.csv", "rejected", "the file is empty"),
    ]
    assert query(
        "SELECT source_file, reason FROM raw.ingest_issues ORDER BY source_file"
    ) == [
        ("empty.820", "the file is empty"),
        ("remittances_empty.csv", "the file is empty"),
    ]


def test_loader_non_utf8_file_name(cases: Path, inbox: Path, work_db: Path, query) -> None:
    """A file name that is not valid UTF-8 is loaded and recorded with its bytes escaped."""
    name = os.fsdecode(b"remittances_caf\xe9.csv")
    (inbox / name).write_bytes((cases / "csv/remittances_mixed.csv").read_bytes())
    (inbox / "zz.pdf").write_bytes(b"%PDF-1.4")
    summary = load_inbox(inbox, work_db, "run-1")

    assert summary.files_loaded == 1
    assert summary.files_unsupported == 1
    assert query("SELECT source_file, status FROM raw.files ORDER BY source_file") == [
        ("remittances_caf\\xe9.csv", "loaded"),
        ("zz.pdf", "unsupported"),
    ]
    assert query("SELECT DISTINCT source_file FROM raw.payments") == [("remittances_caf\\xe9.csv",)]
    again = load_inbox(inbox, work_db, "run-2")
    assert again.files_duplicate == 1
    assert query("SELECT count(*) FROM raw.payments") == [(3,)]
