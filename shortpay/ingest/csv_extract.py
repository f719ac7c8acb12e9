"""ERP CSV extracts: read with DuckDB, check every value in SQL, load the good rows.

DuckDB reads the file with ``all_varchar`` so that no value is converted
before it is checked. Each row gets a list of reasons (empty field, invalid
date, too many decimal places...). Rows with reasons go to
``raw.ingest_issues`` at ``line N`` (the header is line 1), the others are
cast and inserted into their typed table. Extra columns are ignored.

Identifiers in the generated SQL come from the column specs of this module,
never from file content, except the header names of the file, which are
quoted. Values are always bound as parameters or read from the file by DuckDB.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shortpay.ingest.context import FileContext
from shortpay.ingest.records import MAX_AMOUNT

logger = logging.getLogger(__name__)

PROMOTION_TYPES = ("off_invoice", "bill_back", "scan", "coop", "slotting", "mcb")
TRUE_WORDS = ("true", "yes", "y", "1")
FALSE_WORDS = ("false", "no", "n", "0")

DECIMAL_SCALES = {"money": 2, "price": 4, "quantity": 4, "rate": 6}


# A line number past the end of any file.
MAX_LINE = 2**62


class CsvRejected(Exception):
    """The whole CSV file is rejected, for the reason in the message."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an extract: its name, how its text is checked and cast, and if it is required."""

    name: str
    kind: str = "text"
    required: bool = False
    # A required column whose value may still be empty on a row.
    allow_empty: bool = False
    # A number column whose value must not be below zero.
    non_negative: bool = False
    # For a date column, the column whose date it must not come before.
    not_before: str | None = None


def _required(*names: str, kind: str = "text") -> list[ColumnSpec]:
    return [ColumnSpec(name, kind, required=True) for name in names]


ERP_SPECS: dict[str, list[ColumnSpec]] = {
    "customers": [
        *_required("customer_id", "name"),
        ColumnSpec("parent_customer_id"),
        ColumnSpec("ar_contact_email"),
        ColumnSpec("ar_contact_name"),
        ColumnSpec("country"),
        ColumnSpec("reason_code_set"),
    ],
    "invoices": [
        *_required("invoice_id", "customer_id"),
        *_required("invoice_date", "due_date", kind="date"),
        ColumnSpec("currency", "currency", required=True),
        # A negative total would leave a negative open amount, which the
        # build's balance test rejects.
        ColumnSpec("total_amount", "money", required=True, non_negative=True),
        ColumnSpec("po_number"),
        ColumnSpec("payment_terms"),
        ColumnSpec("bill_to_name"),
        # Not in the inbox contract: foreign layouts fill it through a mapping.
        ColumnSpec("is_disputed", "boolean"),
    ],
    "invoice_lines": [
        ColumnSpec("invoice_id", required=True),
        ColumnSpec("line_number", "integer", required=True),
        ColumnSpec("sku", required=True),
        ColumnSpec("quantity", "quantity", required=True),
        ColumnSpec("unit_price", "price", required=True),
        ColumnSpec("line_amount", "money", required=True),
        ColumnSpec("description"),
        ColumnSpec("uom"),
    ],
    "shipments": [
        ColumnSpec("invoice_id", required=True),
        ColumnSpec("line_number", "integer", required=True),
        ColumnSpec("shipped_quantity", "quantity", required=True, non_negative=True),
        ColumnSpec("delivered_quantity", "quantity", required=True, non_negative=True),
        ColumnSpec("delivery_date", "date", required=True),
        ColumnSpec("pod_reference"),
        ColumnSpec("carrier"),
    ],
    "promotions": [
        *_required("promotion_id", "customer_id"),
        ColumnSpec("start_date", "date", required=True),
        ColumnSpec("end_date", "date", required=True, not_before="start_date"),
        ColumnSpec("promotion_type", "promotion_type", required=True),
        ColumnSpec("amount_cap", "money", required=True, non_negative=True),
        ColumnSpec("sku"),
        ColumnSpec("rate_per_unit", "rate"),
        ColumnSpec("description"),
    ],
    "prices": [
        *_required("customer_id", "sku"),
        ColumnSpec("unit_price", "price", required=True),
        ColumnSpec("valid_from", "date", required=True),
        ColumnSpec("valid_to", "date", required=True, not_before="valid_from"),
        ColumnSpec("currency", "currency"),
    ],
}

# The header row must end within this many bytes.
HEADER_BYTES = 1024 * 1024

BLANK_LINE = re.compile(rb"(^|\n)\r?(\n|$)")


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_text(value: str) -> str:
    """Quote a constant of this module as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _reason_sql(spec: ColumnSpec) -> str | None:
    """Return an SQL expression giving the reason a value is invalid, or NULL."""
    column = spec.name
    value = _quote_identifier(column)
    label = _sql_text(column)
    if spec.kind == "date":
        return (
            f"CASE WHEN {value} IS NOT NULL AND NOT ("
            f"regexp_full_match({value}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') "
            f"AND try_cast({value} AS DATE) IS NOT NULL) "
            f"THEN format('{{}} ''{{}}'' is not a valid YYYY-MM-DD date', {label}, {value}) END"
        )
    if spec.kind in DECIMAL_SCALES:
        scale = DECIMAL_SCALES[spec.kind]
        # Trailing zeros beyond the scale are exact, so '12.500' is a valid amount.
        fraction = f"rtrim(regexp_extract({value}, '\\.(\\d*)$', 1), '0')"
        number = f"try_cast({value} AS DECIMAL(18, {scale}))"
        negative = ""
        if spec.non_negative:
            negative = f"WHEN {number} < 0 THEN format('{{}} ''{{}}'' is negative', {label}, {value}) "
        return (
            f"CASE WHEN {value} IS NULL THEN NULL "
            f"WHEN NOT regexp_full_match({value}, '[+-]?(\\d+(\\.\\d*)?|\\.\\d+)') "
            f"THEN format('{{}} ''{{}}'' is not a decimal number', {label}, {value}) "
            f"WHEN length({fraction}) > {scale} "
            f"THEN format('{{}} ''{{}}'' has more than {scale} decimal places', {label}, {value}) "
            f"WHEN {number} IS NULL "
            f"THEN format('{{}} ''{{}}'' is out of range', {label}, {value}) "
            f"WHEN abs({number}) > {MAX_AMOUNT} "
            f"THEN format('{{}} ''{{}}'' is above {MAX_AMOUNT}, the largest amount accepted', "
            f"{label}, {value}) "
            f"{negative}END"
        )
    if spec.kind == "integer":
        return (
            f"CASE WHEN {value} IS NOT NULL AND NOT (regexp_full_match({value}, '[+-]?\\d+') "
            f"AND try_cast({value} AS INTEGER) IS NOT NULL) "
            f"THEN format('{{}} ''{{}}'' is not a whole number', {label}, {value}) END"
        )
    if spec.kind == "currency":
        return (
            f"CASE WHEN {value} IS NOT NULL AND NOT regexp_full_match({value}, '[A-Za-z]{{3}}') "
            f"THEN format('{{}} ''{{}}'' is not a three-letter ISO 4217 code', {label}, {value}) END"
        )
    if spec.kind == "boolean":
        words = ", ".join(_sql_text(word) for word in TRUE_WORDS + FALSE_WORDS)
        return (
            f"CASE WHEN {value} IS NOT NULL AND lower({value}) NOT IN ({words}) "
            f"THEN format('{{}} ''{{}}'' is not true/false or yes/no', {label}, {value}) END"
        )
    if spec.kind == "promotion_type":
        choices = ", ".join(_sql_text(choice) for choice in PROMOTION_TYPES)
        return (
            f"CASE WHEN {value} IS NOT NULL AND lower({value}) NOT IN ({choices}) "
            f"THEN format('{{}} ''{{}}'' is not one of {', '.join(PROMOTION_TYPES)}', "
            f"{label}, {value}) END"
        )
    return None


def _order_reason_sql(column: str, earlier: str) -> str:
    """Return an SQL expression giving why date ``column`` comes before ``earlier``, or NULL."""
    value, first = _quote_identifier(column), _quote_identifier(earlier)
    return (
        f"CASE WHEN try_cast({value} AS DATE) < try_cast({first} AS DATE) "
        f"THEN format('{{}} ''{{}}'' is before {{}} ''{{}}''', {_sql_text(column)}, {value}, "
        f"{_sql_text(earlier)}, {first}) END"
    )


def cast_sql(spec: ColumnSpec) -> str:
    """Return the SQL expression that casts a checked text value to its column type."""
    value = _quote_identifier(spec.name)
    if spec.kind == "date":
        return f"CAST({value} AS DATE)"
    if spec.kind in DECIMAL_SCALES:
        return f"CAST({value} AS DECIMAL(18, {DECIMAL_SCALES[spec.kind]}))"
    if spec.kind == "integer":
        return f"CAST({value} AS INTEGER)"
    if spec.kind == "currency":
        return f"upper({value})"
    if spec.kind == "promotion_type":
        return f"lower({value})"
    if spec.kind == "boolean":
        true_words = ", ".join(_sql_text(word) for word in TRUE_WORDS)
        return f"CASE WHEN {value} IS NULL THEN NULL ELSE lower({value}) IN ({true_words}) END"
    return value


def _blank_lines(data: bytes) -> list[int]:
    """Return the 1-based numbers of empty lines, which DuckDB skips.

    A line of spaces or tabs is not skipped: DuckDB reads it as a row with
    one value, too few for the header.
    """
    if not BLANK_LINE.search(data):
        return []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [number for number, line in enumerate(lines, start=1) if line in (b"", b"\r")]


def _drop_read_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temp tables of one read of a file: its rows and DuckDB's rejects."""
    con.execute("DROP TABLE IF EXISTS ingest_csv_stage")
    con.execute("DROP TABLE IF EXISTS ingest_csv_reject_errors")
    con.execute("DROP TABLE IF EXISTS ingest_csv_reject_scans")


def _drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    _drop_read_tables(con)
    con.execute("DROP TABLE IF EXISTS ingest_csv_checked")


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    context: FileContext,
    csv_path: Path,
    data: bytes,
    specs: list[ColumnSpec],
) -> None:
    """Read a CSV into the temp table of checked rows and record its bad rows as issues.

    The checked table has ``line`` (the row's line in the file), one text
    column per spec (trimmed, empty as NULL) and ``reasons`` ('' for a good
    row). Raises CsvRejected when the file cannot be read or lacks a required
    column.

    After a quoted value that is never closed, DuckDB reads the following
    lines wrongly, up to the end of the file or to where the quotes pair up
    again. Its rows after that row are dropped, and the rest of the file,
    from the line after that row's first line, is read again as a file of
    its own with the same header, so the good rows there still load.
    """
    _drop_temp_tables(con)
    columns = {name: "VARCHAR" for name in header_names(data)}
    header_line = data[: data.index(b"\n") + 1] if b"\n" in data else data
    segment_path, segment_data, line_offset = csv_path, data, 0
    scratch: Path | None = None
    try:
        while True:
            unclosed = _stage_segment(
                con, context, segment_path, segment_data, specs, columns, line_offset
            )
            rest = _rest_after_row(segment_data, unclosed) if unclosed else None
            if rest is None:
                break
            rest_data, first_rest_line = rest
            if scratch is None:
                handle, name = tempfile.mkstemp(prefix="shortpay-csv-", suffix=".csv")
                os.close(handle)
                scratch = Path(name)
            segment_data = header_line + rest_data
            scratch.write_bytes(segment_data)
            segment_path = scratch
            # Line 2 of the new segment is first_rest_line of the last one.
            line_offset += first_rest_line - 2
    finally:
        if scratch is not None:
            scratch.unlink(missing_ok=True)
    bad_rows = con.execute(
        "INSERT INTO raw.ingest_issues SELECT ?, ?, 'line ' || line, reasons, 'error', ?, ? "
        "FROM ingest_csv_checked WHERE reasons <> '' ORDER BY line",
        [context.file_hash, context.source_file, context.run_id, context.started_at],
    ).fetchone()
    context.issue_count += bad_rows[0] if bad_rows else 0


def _stage_segment(
    con: duckdb.DuckDBPyConnection,
    context: FileContext,
    csv_path: Path,
    data: bytes,
    specs: list[ColumnSpec],
    columns: dict[str, str],
    line_offset: int,
) -> int | None:
    """Read one file (a whole CSV, or the rest of one) and add its rows to the checked table.

    ``line_offset`` is added to every line number of this file, and the
    first file (offset 0) creates the checked table. Returns the line (in
    this file) of the first row with a quoted value that is not closed, or
    None.
    """
    _drop_read_tables(con)
    try:
        con.execute(
            # Rows of a table written in an open transaction have no usable rowid,
            # so the reading order is kept in a column of its own. The columns
            # are given, so DuckDB does not sniff the file: its sniffer fails
            # on a file cut off inside a quoted value, which would lose the
            # good rows before the cut.
            "CREATE TEMP TABLE ingest_csv_stage AS SELECT row_number() OVER () - 1 AS "
            "ingest_row_index, * FROM read_csv(?, auto_detect = false, columns = ?, "
            "header = true, delim = ',', quote = '\"', escape = '\"', store_rejects = true, "
            "rejects_table = 'ingest_csv_reject_errors', rejects_scan = 'ingest_csv_reject_scans')",
            [str(csv_path), columns],
        )
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        # DuckDB names the absolute path. The inbox-relative name keeps the
        # message, and the exception id made from it, the same wherever the inbox is.
        first_line = first_line.replace(str(csv_path), context.source_file)
        raise CsvRejected(f"the file could not be read as CSV: {first_line}") from error

    description = con.execute("SELECT * FROM ingest_csv_stage LIMIT 0").description
    header = [column[0] for column in description[1:]]
    by_name: dict[str, str] = {}
    for name in header:
        by_name.setdefault(name.strip().lstrip("\ufeff").lower(), name)
    missing = [spec.name for spec in specs if spec.required and spec.name not in by_name]
    if missing:
        raise CsvRejected(
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the header has: {', '.join(header)})"
        )

    # Rows and errors after a row with an unclosed quote are dropped,
    # because stage_csv reads the rest of the file again.
    unclosed = con.execute(
        "SELECT min(line) FROM ingest_csv_reject_errors WHERE error_type = 'UNQUOTED VALUE'"
    ).fetchone()[0]
    last_line = unclosed if unclosed is not None else MAX_LINE
    _build_line_map(con, data)
    _record_malformed_rows(con, context, line_offset, last_line)

    selected = []
    for spec in specs:
        if spec.name in by_name:
            source = _quote_identifier(by_name[spec.name])
            selected.append(f"nullif(trim(s.{source}), '') AS {_quote_identifier(spec.name)}")
        else:
            selected.append(f"CAST(NULL AS VARCHAR) AS {_quote_identifier(spec.name)}")
    reasons = []
    for spec in specs:
        if spec.required and not spec.allow_empty:
            reasons.append(
                f"CASE WHEN {_quote_identifier(spec.name)} IS NULL "
                f"THEN 'required column {spec.name} is empty' END"
            )
        reason = _reason_sql(spec)
        if reason is not None:
            reasons.append(reason)
        if spec.not_before:
            reasons.append(_order_reason_sql(spec.name, spec.not_before))
    reasons_sql = f"concat_ws('; ', {', '.join(reasons)})" if reasons else "''"
    target = "CREATE TEMP TABLE ingest_csv_checked AS" if line_offset == 0 else (
        "INSERT INTO ingest_csv_checked"
    )
    # The SQL is built from the column specs and the quoted header names only.
    query = (
        f"{target} SELECT *, {reasons_sql} AS reasons FROM ("  # noqa: S608
        f"SELECT m.file_line + ? AS line, {', '.join(selected)} FROM ingest_csv_stage AS s "
        "JOIN ingest_csv_line_map AS m ON m.row_index = s.ingest_row_index "
        "WHERE m.line < ?)"
    )
    con.execute(query, [line_offset, last_line])
    return unclosed


def _rest_after_row(data: bytes, row: int) -> tuple[bytes, int] | None:
    """Return the bytes after the first line of CSV row ``row`` and the number of their first line.

    DuckDB numbers rows, not lines: the header is row 1, and a row with a
    quoted line break is one row on several lines. Python's csv module
    counts both. Returns None when nothing but blank lines follows.
    """
    if row < 2:
        # The header itself: there is no row to read again after.
        return None
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))
    lines_before = 0
    for number, _ in enumerate(reader, start=1):
        if number == row - 1:
            lines_before = reader.line_num
            break
    # The row starts on line lines_before + 1, and the rest after that line.
    lines = data.split(b"\n")
    rest_lines = lines[lines_before + 1:]
    if not b"".join(rest_lines).strip():
        return None
    return b"\n".join(rest_lines), lines_before + 2


def header_names(data: bytes) -> list[str]:
    """Return the column names of a UTF-8 CSV's header row, made unique.

    An empty name becomes ``column<N>`` (N counts from 0) and a repeated one
    gets ``_1``, ``_2``... Raises CsvRejected when the file has no complete
    header row in its first HEADER_BYTES bytes.
    """
    head = data[:HEADER_BYTES].decode("utf-8-sig", errors="replace")
    if "\n" not in head and len(data) > HEADER_BYTES:
        raise CsvRejected(f"the header row is longer than {HEADER_BYTES} bytes")
    first_row = next(csv.reader(io.StringIO(head, newline="")), None)
    if not first_row:
        raise CsvRejected("the file has no header row")
    names: list[str] = []
    for index, name in enumerate(first_row):
        unique = name or f"column{index}"
        suffix = 0
        while unique in names:
            suffix += 1
            unique = f"{name or f'column{index}'}_{suffix}"
        names.append(unique)
    return names


# Plain wording for the error types of DuckDB 2.0's CSV rejects table. Its
# other types (CAST, INVALID STATE) keep DuckDB's name, in lower case.
REJECT_REASONS = {
    "MISSING COLUMNS": "too few columns",
    "TOO MANY COLUMNS": "too many columns",
    "UNQUOTED VALUE": "a quoted value is not closed, or text follows its closing quote",
    "LINE SIZE OVER MAXIMUM": "the line is too long",
    "INVALID ENCODING": "invalid UTF-8",
}


def _record_malformed_rows(
    con: duckdb.DuckDBPyConnection, context: FileContext, line_offset: int, last_line: int
) -> None:
    """Turn the rows DuckDB could not split into columns, up to ``last_line``, into issues.

    DuckDB 2.0 records a short row once per missing column, each time with a
    larger "Found" count, so only the error at the first column is kept.
    """
    reasons = " ".join(
        f"WHEN '{error_type}' THEN '{reason}'" for error_type, reason in REJECT_REASONS.items()
    )
    inserted = con.execute(
        "INSERT INTO raw.ingest_issues "  # noqa: S608 - the CASE comes from REJECT_REASONS
        "SELECT ?, ?, 'line ' || (coalesce(starts.file_line, errors.line) + ?), "
        "'row could not be read: ' "
        "|| string_agg(reason, '; ' ORDER BY first_column), 'error', ?, ? FROM ("
        f"SELECT line, min(column_idx) AS first_column, CASE error_type {reasons} "
        "ELSE lower(error_type) END || ' (' || arg_min(error_message, column_idx) || ')' "
        "AS reason FROM ingest_csv_reject_errors WHERE line <= ? GROUP BY line, error_type"
        ") AS errors LEFT JOIN ingest_csv_file_lines AS starts ON starts.line = errors.line "
        "GROUP BY errors.line, starts.file_line ORDER BY errors.line",
        [context.file_hash, context.source_file, line_offset, context.run_id,
         context.started_at, last_line],
    ).fetchone()
    context.issue_count += inserted[0] if inserted else 0


def _build_line_map(con: duckdb.DuckDBPyConnection, data: bytes) -> None:
    """Map each staged row to its line in DuckDB's count and in the file.

    Data lines start at 2. Lines that DuckDB rejected or skipped as blank are
    left out, so the n-th staged row is the n-th remaining line.

    DuckDB counts a row with a line break in a quoted value as one line, so
    after such a row its count falls behind the file's lines. Then
    ingest_csv_file_lines maps each line of DuckDB's count (the header is 1)
    to the file line on which that row starts. The table stays empty when
    every row is one line, which the file's line count shows.
    """
    con.execute("DROP TABLE IF EXISTS ingest_csv_file_lines")
    con.execute("CREATE TEMP TABLE ingest_csv_file_lines (line BIGINT, file_line BIGINT)")
    blank = _blank_lines(data)
    staged_rows = con.execute("SELECT count(*) FROM ingest_csv_stage").fetchone()[0]
    rejected = con.execute("SELECT count(DISTINCT line) FROM ingest_csv_reject_errors").fetchone()[
        0
    ]
    file_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if 1 + staged_rows + rejected + len(blank) != file_lines:
        blank = _map_file_lines(con, data)
    end = 2 + staged_rows + rejected + len(blank)
    con.execute("DROP TABLE IF EXISTS ingest_csv_line_map")
    con.execute(
        "CREATE TEMP TABLE ingest_csv_line_map AS "
        "SELECT row_number() OVER (ORDER BY numbered.line) - 1 AS row_index, numbered.line, "
        "coalesce(starts.file_line, numbered.line) AS file_line FROM ("
        "SELECT range AS line FROM range(2, ?) "
        "WHERE range NOT IN (SELECT line FROM ingest_csv_reject_errors) "
        "AND range NOT IN (SELECT unnest(CAST(? AS BIGINT[])))) AS numbered "
        "LEFT JOIN ingest_csv_file_lines AS starts ON starts.line = numbered.line",
        [end, blank],
    )


def _map_file_lines(con: duckdb.DuckDBPyConnection, data: bytes) -> list[int]:
    """Fill ingest_csv_file_lines and return the blank lines, both in DuckDB's count.

    Python's csv module reads a row with line breaks as one row, as DuckDB
    does, and counts the file's lines as it goes. Reading the file again
    this way took about 2 s per million rows here, paid only by files
    whose quoted values contain line breaks.
    """
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))
    starts, blank = [], []
    lines_read = 0
    for line, row in enumerate(reader, start=1):
        starts.append(lines_read + 1)
        if not row:
            blank.append(line)
        lines_read = reader.line_num
    con.execute(
        "INSERT INTO ingest_csv_file_lines SELECT unnest(range(1, ?)), unnest(CAST(? AS BIGINT[]))",
        [len(starts) + 1, starts],
    )
    return blank


def load_erp_csv(
    con: duckdb.DuckDBPyConnection,
    context: FileContext,
    entity: str,
    csv_path: Path,
    data: bytes,
) -> None:
    """Load one ERP extract (customers, invoices...) from a UTF-8 file into raw.<entity>.

    Raises CsvRejected when the whole file is rejected.
    """
    specs = ERP_SPECS[entity]
    stage_csv(con, context, csv_path, data, specs)
    columns = ", ".join(f"{cast_sql(spec)} AS {spec.name}" for spec in specs)
    inserted = con.execute(
        f"INSERT INTO raw.{entity} BY NAME SELECT {columns}, "  # noqa: S608 - names from ERP_SPECS
        "? AS source_file, ? AS file_hash, 'line ' || line AS source_position "
        "FROM ingest_csv_checked WHERE reasons = ''",
        [context.source_file, context.file_hash],
    ).fetchone()
    context.add_rows(entity, inserted[0] if inserted else 0)
    drop_staging(con)


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temp tables of the last staged CSV."""
    _drop_temp_tables(con)
    con.execute("DROP TABLE IF EXISTS ingest_csv_line_map")
    con.execute("DROP TABLE IF EXISTS ingest_csv_file_lines")
