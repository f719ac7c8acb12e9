"""Text decoding of inbox files: UTF-8 (with or without BOM), UTF-16 with a BOM, else cp1252.

A file that is not valid UTF-8 is decoded as cp1252 only when every byte of
it decodes in cp1252. Otherwise it is rejected with the offset of the first
byte that is invalid in UTF-8. Spreadsheet programs save "Unicode text" as
UTF-16 with a byte order mark, by which it is recognised.
"""

from __future__ import annotations

import codecs


class UndecodableFile(ValueError):
    """The bytes are neither UTF-8 nor cp1252."""


UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode file bytes and return the text (without BOM) and the encoding used."""
    if data.startswith(UTF16_BOMS):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as error:
            raise UndecodableFile(
                f"bytes at offset {error.start} are invalid in UTF-16, although the file"
                " starts with a UTF-16 byte order mark"
            ) from error
    if data.startswith(codecs.BOM_UTF8):
        data_without_bom = data[len(codecs.BOM_UTF8) :]
        try:
            return data_without_bom.decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as error:
            raise UndecodableFile(
                f"byte 0x{data_without_bom[error.start]:02x} at offset "
                f"{error.start + len(codecs.BOM_UTF8)} is invalid in UTF-8, "
                "although the file starts with a UTF-8 byte order mark"
            ) from error
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as cp1252_error:
            raise UndecodableFile(
                f"byte 0x{data[utf8_error.start]:02x} at offset {utf8_error.start} is invalid "
                f"in UTF-8, and byte 0x{data[cp1252_error.start]:02x} at offset "
                f"{cp1252_error.start} is invalid in cp1252"
            ) from utf8_error
