"""Recognise an inbox file by its name, extension and first bytes."""

from __future__ import annotations

from pathlib import Path

from shortpay.ingest.bai2 import looks_like_bai2
from shortpay.ingest.encoding import UTF16_BOMS
from shortpay.ingest.x12 import starts_with_isa

# Longest names first, so that a name is never taken for a shorter prefix.
CSV_ENTITIES = (
    "invoice_lines",
    "remittances",
    "promotions",
    "customers",
    "shipments",
    "invoices",
    "prices",
)
X12_EXTENSIONS = (".820", ".812", ".edi", ".x12", ".txt")
BAI2_EXTENSIONS = (".bai", ".bai2")


def detect_format(path: Path, head: bytes) -> str | None:
    """Return the format name of a file, or None when no reader takes it.

    ``head`` is the start of the file (a few hundred bytes are enough).
    Format names: ``<entity>_csv`` for the CSV extracts, ``x12``, ``bai2``,
    ``camt`` (ISO 20022 XML) and ``mapping`` (a foreign-layout YAML). A ``.bai``/``.bai2`` file always goes to the
    BAI2 reader, which rejects it when it is not BAI2; a ``.txt`` file is BAI2
    when it starts with a 01 record.
    """
    name = path.name.lower()
    suffix = path.suffix.lower()
    if head.startswith(UTF16_BOMS):
        # The checks below read the first characters as ASCII bytes.
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    if name.endswith(".mapping.yaml"):
        return "mapping"
    if suffix == ".csv":
        for entity in CSV_ENTITIES:
            if name.startswith(entity):
                return f"{entity}_csv"
        return None
    if suffix in X12_EXTENSIONS and starts_with_isa(head):
        return "x12"
    if suffix in BAI2_EXTENSIONS or (suffix == ".txt" and looks_like_bai2(head)):
        return "bai2"
    if suffix == ".xml":
        return "camt"
    return None
