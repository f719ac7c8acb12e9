"""Load every file of the inbox into the raw schema of the work database.

Each file is written in one transaction together with its ``raw.files`` row.
A run that is killed half-way therefore leaves each file either fully loaded
or absent, and the next run loads the missing files. Files whose SHA-256 is
already in ``raw.files`` as loaded or rejected are skipped.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from shortpay.build_plan import ensure_build_tables
from shortpay.ingest.bai2 import read_bai2
from shortpay.ingest.camt import read_camt
from shortpay.ingest.context import FileContext, write_issues
from shortpay.ingest.csv_extract import ERP_SPECS, CsvRejected, load_erp_csv
from shortpay.ingest.detect import detect_format
from shortpay.ingest.encoding import UndecodableFile, decode_text
from shortpay.ingest.mapping import (
    MAPPING_SUFFIX,
    Mapping,
    MappingError,
    parse_mapping,
    read_source_rows,
    shipped_mappings,
    write_target_csv,
)
from shortpay.ingest.records import ParseIssue, ParseResult
from shortpay.ingest.remittance_csv import load_remittance_csv
from shortpay.ingest.schema import create_raw_tables
from shortpay.ingest.writer import write_parse_result
from shortpay.ingest.x12 import read_x12
from shortpay.interrupts import raise_if_interrupted

logger = logging.getLogger(__name__)

FINISHED_STATUSES = ("loaded", "rejected")
# Formats of the ERP extracts, whose later versions replace earlier ones.
EXTRACT_FORMATS = frozenset(f"{entity}_csv" for entity in ERP_SPECS)
HEAD_BYTES = 4096


@dataclass
class IngestSummary:
    """Counts and sums of one ingest run."""

    files_seen: int = 0
    files_loaded: int = 0
    files_rejected: int = 0
    files_duplicate: int = 0
    files_unsupported: int = 0
    payments: int = 0
    payment_amount: Decimal = Decimal("0.00")
    remittance_lines: int = 0
    adjustments: int = 0
    debit_memos: int = 0
    issues: int = 0
    customers: int = 0
    invoices: int = 0
    invoice_lines: int = 0
    shipments: int = 0
    promotions: int = 0
    prices: int = 0

    def as_dict(self) -> dict[str, int | str]:
        """Return the summary with JSON-safe values; the amount is a decimal string."""
        values = asdict(self)
        values["payment_amount"] = str(self.payment_amount)
        return values

    def add_file(self, context: FileContext) -> None:
        """Add the rows, amount and issues written for one file."""
        for table, count in context.rows.items():
            setattr(self, table, getattr(self, table) + count)
        self.payment_amount += context.payment_amount
        self.issues += context.issue_count


class _Rejected(Exception):
    """The file is rejected; nothing but its ledger row and issues is written."""

    def __init__(self, issues: list[ParseIssue], file_format: str) -> None:
        super().__init__(issues[-1].reason)
        self.issues = issues
        self.file_format = file_format


def load_inbox(
    inbox: Path, work_db: Path, run_id: str, *, lock_timeout_seconds: float = 300.0
) -> IngestSummary:
    """Load every new file of ``inbox`` into the raw tables of ``work_db``.

    Waits up to ``lock_timeout_seconds`` while another process has the
    database open, then raises duckdb.IOException.
    """
    summary = IngestSummary()
    con = _connect(work_db, lock_timeout_seconds)
    try:
        create_raw_tables(con)
        known = dict(
            con.execute(
                "SELECT file_hash, min(status) FILTER (WHERE status IN ('loaded', 'rejected')) "
                "FROM raw.files GROUP BY file_hash"
            ).fetchall()
        )
        stats = {
            source_file: (stat_key, file_hash)
            for source_file, stat_key, file_hash in con.execute(
                "SELECT source_file, stat_key, file_hash FROM raw.file_stats"
            ).fetchall()
        }
        files = _inbox_files(inbox)
        mappings = _inbox_mappings(files) + shipped_mappings()
        for path in files:
            summary.files_seen += 1
            _load_path(con, inbox, path, run_id, known, summary, mappings, stats)
    finally:
        con.close()
    logger.info("ingest run %s finished: %s", run_id, summary.as_dict())
    return summary


def _connect(work_db: Path, timeout_seconds: float) -> duckdb.DuckDBPyConnection:
    """Open the work database, waiting while another process has it locked."""
    work_db.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            con = duckdb.connect(str(work_db))
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() >= deadline:
                raise
            logger.info("work database %s is locked by another process, waiting", work_db)
            time.sleep(0.25)
            continue
        # A progress bar would be written to the output of a pipeline run.
        con.execute("SET enable_progress_bar = false")
        return con


def _inbox_files(inbox: Path) -> list[Path]:
    """Return the inbox's files in load order, leaving out hidden files and folders.

    The order is by file name, then by path, whatever sub-folder a file is
    in. So dated names load in date order when a day's files sit in a
    folder of their own, as they would when they came on different days.
    """
    files = []
    for path in inbox.rglob("*"):
        relative = path.relative_to(inbox)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():
            files.append(path)
    return sorted(files, key=lambda item: (item.name, item.relative_to(inbox).as_posix()))


def _inbox_mappings(files: list[Path]) -> list[Mapping]:
    """Return the valid mapping files of the inbox; invalid ones are rejected when loaded."""
    mappings = []
    for path in files:
        if path.name.lower().endswith(MAPPING_SUFFIX):
            try:
                mappings.append(parse_mapping(path.read_text(encoding="utf-8"), path.name))
            except (MappingError, UnicodeDecodeError) as error:
                logger.warning("mapping %s is not used: %s", path, error)
    return mappings


def _load_path(
    con: duckdb.DuckDBPyConnection,
    inbox: Path,
    path: Path,
    run_id: str,
    known: dict[str, str | None],
    summary: IngestSummary,
    mappings: list[Mapping],
    stats: dict[str, tuple[str, str]],
) -> None:
    relative_path = path.relative_to(inbox).as_posix()
    source_file = _source_name(relative_path)
    if source_file != relative_path:
        logger.warning(
            "the name of %s is not valid UTF-8, so it is recorded with its bad bytes escaped",
            source_file,
        )
    stat_key = _stat_key(path)
    # A hash from raw.file_stats belongs to a loaded or rejected file, which
    # the duplicate branch below skips, so its bytes are not needed.
    file_hash = _known_hash(source_file, stat_key, stats, known)
    data = None
    if file_hash is None:
        data = path.read_bytes()
        file_hash = hashlib.sha256(data).hexdigest()
        _record_stat(con, source_file, stat_key, file_hash)
    context = FileContext(
        path=path,
        source_file=source_file,
        file_hash=file_hash,
        run_id=run_id,
        started_at=datetime.now(UTC).replace(tzinfo=None),
    )
    # Every empty file has the same hash, so an empty file is named as such
    # before it could be taken for a copy of another empty file.
    if data is not None and not data:
        if _file_recorded(con, context):
            summary.files_duplicate += 1
        else:
            _record_rejection(con, context, "empty", 0, [ParseIssue("file", "the file is empty")])
            summary.files_rejected += 1
            summary.add_file(context)
        known[file_hash] = "rejected"
        return
    if known.get(file_hash) in FINISHED_STATUSES:
        logger.info("skipping %s: the same bytes were already read", source_file)
        summary.files_duplicate += 1
        _record_copy(con, context)
        _restore_earlier_version(con, context)
        return
    mapping = _mapping_for(path, mappings)
    file_format = "mapped" if mapping else detect_format(path, data[:HEAD_BYTES])
    if file_format is None:
        summary.files_unsupported += 1
        if file_hash not in known:
            _record_unsupported(con, context, len(data))
            known[file_hash] = None
            summary.issues += context.issue_count
        return
    status = _load_file(con, context, file_format, data, mapping)
    known[file_hash] = status
    if status == "loaded":
        summary.files_loaded += 1
    else:
        summary.files_rejected += 1
    summary.add_file(context)


def _source_name(relative_path: str) -> str:
    """Return the inbox-relative name that the tables record for a file.

    A name that is not valid UTF-8 (Python keeps its bytes as surrogates)
    gets each such byte written as an escape such as ``\\xe9``, because
    DuckDB stores only UTF-8 text.
    """
    if _is_utf8(relative_path):
        return relative_path
    raw = relative_path.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def _is_utf8(text: str) -> bool:
    """Return whether a file name decoded by Python is valid UTF-8 (has no surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stat_key(path: Path) -> str:
    """Return what identifies a file's bytes on disk without reading them.

    Writing a file with write() updates its change time (ctime), which no
    program can set back, so such a rewrite gets a new key.

    NOTE: a write through a shared memory map can leave both times
    unchanged, and the file is then not read again until it is touched.
    """
    stat = path.stat()
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


def _known_hash(
    source_file: str,
    stat_key: str,
    stats: dict[str, tuple[str, str]],
    known: dict[str, str | None],
) -> str | None:
    """Return the hash of a file read before and unchanged since, else None.

    Only a file whose bytes were loaded or rejected is skipped unread, so a
    daily run does not read and hash the whole inbox again.
    """
    cached = stats.get(source_file)
    if cached is None or cached[0] != stat_key or known.get(cached[1]) not in FINISHED_STATUSES:
        return None
    return cached[1]


def _record_stat(
    con: duckdb.DuckDBPyConnection, source_file: str, stat_key: str, file_hash: str
) -> None:
    con.execute("DELETE FROM raw.file_stats WHERE source_file = ?", [source_file])
    con.execute("INSERT INTO raw.file_stats VALUES (?, ?, ?)", [source_file, stat_key, file_hash])


def _mapping_for(path: Path, mappings: list[Mapping]) -> Mapping | None:
    if path.suffix.lower() not in (".csv", ".xlsx") or path.name.lower().endswith(MAPPING_SUFFIX):
        return None
    return next((mapping for mapping in mappings if mapping.matches(path)), None)


def _load_file(
    con: duckdb.DuckDBPyConnection,
    context: FileContext,
    file_format: str,
    data: bytes,
    mapping: Mapping | None = None,
) -> str:
    """Read one file and write it in one transaction; return its status."""
    con.begin()
    try:
        if mapping is not None:
            loaded_format = _load_mapped(con, context, mapping, data)
        else:
            loaded_format = _read_into_tables(con, context, file_format, data)
        _insert_file_row(con, context, loaded_format, len(data), "loaded", None)
        con.commit()
        logger.info(
            "loaded %s: %s, %d issues", context.source_file, context.rows, context.issue_count
        )
        return "loaded"
    except _Rejected as rejection:
        con.rollback()
        _record_rejection(con, context, rejection.file_format, len(data), rejection.issues)
    except Exception as error:  # noqa: BLE001 - one broken file must not stop the run
        con.rollback()
        raise_if_interrupted(error)
        logger.exception("reading %s failed", context.source_file)
        issue = ParseIssue("file", f"the file could not be read: {type(error).__name__}: {error}")
        _record_rejection(con, context, file_format, len(data), [issue])
    return "rejected"


def _read_into_tables(
    con: duckdb.DuckDBPyConnection, context: FileContext, file_format: str, data: bytes
) -> str:
    """Write the records of one file; raise _Rejected when the whole file is rejected."""
    if file_format.endswith("_csv"):
        _load_csv(con, context, file_format, data)
        return file_format
    if file_format == "mapping":
        try:
            parse_mapping(data.decode("utf-8"), context.source_file)
        except (MappingError, UnicodeDecodeError) as error:
            raise _Rejected([ParseIssue("file", str(error))], "mapping") from error
        return "mapping"
    result = _parse(file_format, data)
    if result.rejected:
        raise _Rejected(result.issues, result.format)
    write_parse_result(con, context, result)
    return result.format


def _load_csv(
    con: duckdb.DuckDBPyConnection, context: FileContext, file_format: str, data: bytes
) -> None:
    """Load a CSV extract, transcoding a cp1252 or UTF-16 file to a temporary UTF-8 copy first."""
    entity = file_format.removesuffix("_csv")
    try:
        text, encoding = decode_text(data)
    except UndecodableFile as error:
        raise _Rejected(
            [ParseIssue("file", f"the file is not readable text: {error}")], file_format
        ) from error
    with tempfile.TemporaryDirectory(prefix="shortpay-ingest-") as folder:
        csv_path = context.path
        if not _is_utf8(str(csv_path)):
            # DuckDB opens files by UTF-8 name only, so it reads a copy.
            csv_path = Path(folder) / "source.csv"
            csv_path.write_bytes(data)
        if encoding in ("cp1252", "utf-16"):
            csv_path = Path(folder) / "utf8.csv"
            csv_path.write_text(text, encoding="utf-8")
            data = csv_path.read_bytes()
            write_issues(
                con,
                context,
                [
                    ParseIssue("file", "the file is not valid UTF-8 and was read as cp1252",
                               severity="warning")
                    if encoding == "cp1252"
                    else ParseIssue("file", "the file was read as UTF-16, as its byte order mark"
                                    " says", severity="info")
                ],
            )
        try:
            if entity in ERP_SPECS:
                load_erp_csv(con, context, entity, csv_path, data)
            else:
                load_remittance_csv(con, context, csv_path, data)
        except CsvRejected as error:
            raise _Rejected([ParseIssue("line 1", str(error))], file_format) from error


def _load_mapped(
    con: duckdb.DuckDBPyConnection, context: FileContext, mapping: Mapping, data: bytes
) -> str:
    """Load a foreign CSV or XLSX file through a mapping, one contract CSV per target."""
    file_format = f"mapped:{mapping.name}"
    try:
        header, rows = read_source_rows(context.path, data, mapping)
        with tempfile.TemporaryDirectory(prefix="shortpay-mapping-") as folder:
            for target in mapping.targets:
                csv_path = Path(folder) / f"{target.entity}.csv"
                write_target_csv(header, rows, mapping, target, csv_path)
                target_data = csv_path.read_bytes()
                if target.entity == "remittances":
                    load_remittance_csv(con, context, csv_path, target_data)
                else:
                    load_erp_csv(con, context, target.entity, csv_path, target_data)
    except (MappingError, UndecodableFile, CsvRejected) as error:
        raise _Rejected([ParseIssue("file", str(error))], file_format) from error
    return file_format


def _parse(file_format: str, data: bytes) -> ParseResult:
    if file_format == "x12":
        return read_x12(data)
    if file_format == "bai2":
        return read_bai2(data)
    if file_format == "camt":
        return read_camt(data)
    raise ValueError(f"no reader for format {file_format}")


def _record_rejection(
    con: duckdb.DuckDBPyConnection,
    context: FileContext,
    file_format: str,
    size_bytes: int,
    issues: list[ParseIssue],
) -> None:
    """Write a rejected file's ledger row and issues in a fresh transaction."""
    context.rows.clear()
    context.issue_count = 0
    context.payment_amount = Decimal("0.00")
    con.begin()
    write_issues(con, context, issues)
    _insert_file_row(con, context, file_format, size_bytes, "rejected", issues[-1].reason)
    con.commit()
    logger.warning("rejected %s: %s", context.source_file, issues[-1].reason)


def _file_recorded(con: duckdb.DuckDBPyConnection, context: FileContext) -> bool:
    """Return whether the ledger has a row for these bytes under this file's name."""
    return con.execute(
        "SELECT count(*) FROM raw.files WHERE file_hash = ? AND source_file = ?",
        [context.file_hash, context.source_file],
    ).fetchone()[0] > 0


def _record_copy(con: duckdb.DuckDBPyConnection, context: FileContext) -> None:
    """Note once that a file under another name repeats the bytes of one already read."""
    if _file_recorded(con, context):
        return
    original = con.execute(
        "SELECT source_file FROM raw.files WHERE file_hash = ?", [context.file_hash]
    ).fetchone()
    if original is None or original[0] == context.source_file:
        return
    reason = f"same content as {original[0]}, which was already read; not loaded again"
    already_noted = con.execute(
        "SELECT count(*) FROM raw.ingest_issues WHERE file_hash = ? AND source_file = ?",
        [context.file_hash, context.source_file],
    ).fetchone()[0]
    if already_noted:
        return
    con.begin()
    write_issues(con, context, [ParseIssue("file", reason, "info")])
    con.commit()


def _restore_earlier_version(con: duckdb.DuckDBPyConnection, context: FileContext) -> None:
    """Make an extract's earlier version current again when it is sent back at its path.

    An extract replaced at the same path no longer counts (see the dbt model
    stg_superseded_files). When the inbox contains an earlier version again,
    that version's ledger row gets a new ``loaded_at``, so it replaces the
    later one, and it leaves ``raw.build_files``, so the next build takes
    its rows in again. Remittance files are left alone: a payment is posted
    once, from the first file that has it.
    """
    row = con.execute(
        "SELECT format, status, loaded_at FROM raw.files WHERE file_hash = ? AND source_file = ?",
        [context.file_hash, context.source_file],
    ).fetchone()
    if row is None or row[1] != "loaded" or row[0] not in EXTRACT_FORMATS:
        return
    newer = con.execute(
        "SELECT count(*) FROM raw.files WHERE source_file = ? AND file_hash <> ?"
        " AND status = 'loaded' AND loaded_at > ?",
        [context.source_file, context.file_hash, row[2]],
    ).fetchone()[0]
    if not newer:
        return
    con.begin()
    con.execute(
        "UPDATE raw.files SET loaded_at = ?, run_id = ? WHERE file_hash = ?",
        [context.started_at, context.run_id, context.file_hash],
    )
    ensure_build_tables(con)
    con.execute("DELETE FROM raw.build_files WHERE file_hash = ?", [context.file_hash])
    con.commit()
    logger.info(
        "%s is an earlier version sent again, so it replaces the later one", context.source_file
    )


def _record_unsupported(con: duckdb.DuckDBPyConnection, context: FileContext, size: int) -> None:
    reason = (
        "no reader takes this file: ERP extracts are <entity>*.csv, X12 files start with ISA "
        "and end in .820, .812, .edi, .x12 or .txt, BAI2 files end in .bai or .bai2 "
        "(or .txt starting with a 01 record), camt files end in .xml"
    )
    con.begin()
    write_issues(con, context, [ParseIssue("file", reason, severity="warning")])
    _insert_file_row(con, context, "unknown", size, "unsupported", reason)
    con.commit()
    logger.warning("unsupported file %s", context.source_file)


def _insert_file_row(
    con: duckdb.DuckDBPyConnection,
    context: FileContext,
    file_format: str,
    size_bytes: int,
    status: str,
    reason: str | None,
) -> None:
    con.execute(
        "INSERT INTO raw.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            context.file_hash,
            context.source_file,
            file_format,
            size_bytes,
            status,
            reason,
            sum(context.rows.values()),
            context.run_id,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )
