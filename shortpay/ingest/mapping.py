"""Foreign layouts: a mapping YAML turns a CSV or XLSX file into contract extracts.

A mapping names the files it applies to (``pattern``, a shell pattern on the
file name), how to read their values (date format, decimal comma, amount
sign) and one or more targets. Each target is a contract entity
(``invoices``, ``remittances``, ``customers``...) with the contract column
it fills from each source column. The loader writes each target as a
contract CSV (one output row per source row, so line numbers stay those of
the source file) and loads it with the normal CSV checks.

Example::

    name: example-layout
    pattern: "ar_export_*.csv"
    date_format: "%d.%m.%Y"
    decimal_comma: true
    amount_sign: negate
    targets:
      - entity: invoices
        columns: {invoice_id: Belegnr, customer_id: Kunde, total_amount: Betrag}
        constants: {currency: EUR}

Column values may also be templates such as ``"settlement-{invoiceNumber}"``.
A target's ``only_rows_with`` lists source columns that must not be empty.
Rows with an empty one are left out of that target without an issue.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import yaml

from shortpay.ingest.csv_extract import ERP_SPECS, ColumnSpec
from shortpay.ingest.encoding import decode_text
from shortpay.ingest.remittance_csv import REMITTANCE_SPECS

logger = logging.getLogger(__name__)

SHIPPED_MAPPINGS = Path(__file__).parent / "mappings"
MAPPING_SUFFIX = ".mapping.yaml"
TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
MONEY_KINDS = ("money",)
NUMBER_KINDS = ("money", "price", "quantity", "rate")


class MappingError(ValueError):
    """A mapping file is invalid; the message names the key and the reason."""


@dataclass
class Target:
    """One contract entity that a mapped file fills."""

    entity: str
    columns: dict[str, str]
    constants: dict[str, str] = field(default_factory=dict)
    only_rows_with: list[str] = field(default_factory=list)

    @property
    def specs(self) -> list[ColumnSpec]:
        return REMITTANCE_SPECS if self.entity == "remittances" else ERP_SPECS[self.entity]


@dataclass
class Mapping:
    """A parsed mapping YAML."""

    name: str
    pattern: str
    targets: list[Target]
    date_format: str = "%Y-%m-%d"
    decimal_comma: bool = False
    amount_sign: str = "as_is"
    sheet: str | None = None
    source: str = ""

    def matches(self, path: Path) -> bool:
        """Return True when the mapping's pattern matches the file name."""
        return fnmatch.fnmatch(path.name.lower(), self.pattern.lower())


def parse_mapping(text: str, source: str) -> Mapping:
    """Validate a mapping YAML text and return it; raise MappingError when invalid."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise MappingError(f"{source} is not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise MappingError(f"{source} must be a YAML mapping with name, pattern and targets")
    for key in ("name", "pattern", "targets"):
        if key not in document:
            raise MappingError(f"{source} is missing the required key '{key}'")
    sign = document.get("amount_sign", "as_is")
    if sign not in ("as_is", "negate"):
        raise MappingError(f"{source}: amount_sign '{sign}' must be as_is or negate")
    targets = [_parse_target(item, source) for item in document["targets"] or []]
    if not targets:
        raise MappingError(f"{source} has no targets")
    return Mapping(
        name=str(document["name"]),
        pattern=str(document["pattern"]),
        targets=targets,
        date_format=str(document.get("date_format", "%Y-%m-%d")),
        decimal_comma=bool(document.get("decimal_comma", False)),
        amount_sign=sign,
        sheet=document.get("sheet"),
        source=source,
    )


def _parse_target(item: object, source: str) -> Target:
    if not isinstance(item, dict) or "entity" not in item or "columns" not in item:
        raise MappingError(f"{source}: every target needs an entity and columns")
    entity = item["entity"]
    if entity != "remittances" and entity not in ERP_SPECS:
        known = ", ".join([*ERP_SPECS, "remittances"])
        raise MappingError(f"{source}: target entity '{entity}' is not one of {known}")
    target = Target(
        entity=entity,
        columns={str(key): str(value) for key, value in (item["columns"] or {}).items()},
        constants={str(key): str(value) for key, value in (item.get("constants") or {}).items()},
        only_rows_with=[str(name) for name in item.get("only_rows_with") or []],
    )
    allowed = {spec.name for spec in target.specs}
    unknown = sorted((set(target.columns) | set(target.constants)) - allowed)
    if unknown:
        raise MappingError(
            f"{source}: target {entity} has unknown contract columns {', '.join(unknown)}"
        )
    return target


def shipped_mappings() -> list[Mapping]:
    """Return the mappings shipped with Shortpay."""
    return [
        parse_mapping(path.read_text(encoding="utf-8"), path.name)
        for path in sorted(SHIPPED_MAPPINGS.glob(f"*{MAPPING_SUFFIX}"))
    ]


def read_source_rows(
    path: Path, data: bytes, mapping: Mapping
) -> tuple[list[str], list[list[str]]]:
    """Return the header and the rows of a CSV or XLSX file as text."""
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path, mapping)
    text, _encoding = decode_text(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = list(reader)
    if not rows:
        raise MappingError("the file is empty")
    return [name.strip() for name in rows[0]], rows[1:]


def _read_xlsx(path: Path, mapping: Mapping) -> tuple[list[str], list[list[str]]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook[mapping.sheet] if mapping.sheet else workbook.worksheets[0]
        rows = [
            [_cell_text(value, mapping.decimal_comma) for value in row]
            for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        workbook.close()
    if not rows:
        raise MappingError("the first sheet is empty")
    return [name.strip() for name in rows[0]], rows[1:]


def _cell_text(value: object, decimal_comma: bool = False) -> str:
    """Return a cell value as text; dates become ISO dates.

    With ``decimal_comma``, a number cell gets a decimal comma like the
    sheet's text cells, so that _convert reads both the same way.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # Excel stores numbers as binary floats; repr gives the shortest decimal
        # text that reads back to the same float, such as '55.94'.
        text = repr(value).removesuffix(".0") if value.is_integer() else repr(value)
        return text.replace(".", ",") if decimal_comma else text
    return str(value)


def write_target_csv(
    header: list[str], rows: list[list[str]], mapping: Mapping, target: Target, output: Path
) -> None:
    """Write one target as a contract CSV; a row left out becomes an empty line."""
    index = {name: position for position, name in enumerate(header)}
    missing = sorted(
        {
            name
            for value in [*target.columns.values(), *target.only_rows_with]
            for name in _source_columns(value)
            if name not in index
        }
    )
    if missing:
        raise MappingError(
            f"mapping {mapping.name}: source column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} not found (the header has: {', '.join(header)})"
        )
    kinds = {spec.name: spec.kind for spec in target.specs}
    names = [*target.columns, *target.constants]
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            values = {
                name: row[position] if position < len(row) else ""
                for name, position in index.items()
            }
            if any(not values[name].strip() for name in target.only_rows_with):
                handle.write("\n")
                continue
            record = [
                _convert(_fill(source, values), kinds[column], mapping)
                for column, source in target.columns.items()
            ]
            record += list(target.constants.values())
            writer.writerow(record)


def _source_columns(value: str) -> list[str]:
    names = TEMPLATE_FIELD.findall(value)
    return names if names else [value]


def _fill(source: str, values: dict[str, str]) -> str:
    if TEMPLATE_FIELD.search(source):
        return TEMPLATE_FIELD.sub(lambda match: values[match.group(1)].strip(), source)
    return values[source].strip()


def _convert(value: str, kind: str, mapping: Mapping) -> str:
    """Rewrite a source value into contract notation; leave invalid text for the checks."""
    if value == "":
        return value
    if kind == "date" and mapping.date_format != "%Y-%m-%d":
        try:
            return datetime.strptime(value, mapping.date_format).date().isoformat()
        except ValueError:
            return value
    if kind in NUMBER_KINDS:
        if mapping.decimal_comma:
            value = value.replace(".", "").replace(" ", "").replace(",", ".")
        if kind in MONEY_KINDS and mapping.amount_sign == "negate":
            try:
                return str(-Decimal(value))
            except ArithmeticError:
                return value
    return value
