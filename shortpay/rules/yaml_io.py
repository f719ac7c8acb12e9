"""Read and write rule YAML without floats, surprises or lost keys.

PyYAML follows YAML 1.1, where ``50.10`` becomes a float, ``0010`` an octal
integer and ``NO`` a boolean. The reader here turns decimal numbers into
``Decimal`` straight from their text and rejects duplicate keys. Codes and ids
that YAML reads as numbers or booleans reach the schema as such, and the
schema rejects them with a hint to put them in quotes.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

SCHEMA_LINE_PREFIX = "# yaml-language-server: $schema="


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping in a YAML document repeats a key."""


class RuleLoader(yaml.SafeLoader):
    """Safe YAML loader that reads decimals as Decimal and rejects duplicate keys."""


def _construct_decimal(loader: RuleLoader, node: yaml.ScalarNode) -> Decimal | str:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    # .inf and .nan stay text so the schema rejects them as "not a number".
    return value if value.is_finite() else text


def _construct_mapping(loader: RuleLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise DuplicateKeyError(
                "while reading a mapping",
                node.start_mark,
                f"found the key {key!r} twice",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


RuleLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
RuleLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


# Text that YAML 1.1 or 1.2 readers, such as editor plugins, would take for a
# number, a boolean or null. The dumper quotes it.
AMBIGUOUS_TEXT = re.compile(
    r"[-+.]?[0-9].*|(?i:y|n|yes|no|on|off|true|false|null|~)|[.](?i:inf|nan)"
)


class RuleDumper(yaml.SafeDumper):
    """Safe YAML dumper in the hand-written style of the rule files.

    Decimals are plain numbers, lists of codes are quoted flow lists, nested
    lists are indented and text that a reader could take for a number is quoted.
    """

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_decimal(dumper: RuleDumper, value: Decimal) -> yaml.ScalarNode:
    # YAML does not read "5" or "1E+5" as floats, so the dumper would tag
    # them !!float. A whole number is written as an integer instead.
    text = format(value, "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


def _represent_text(dumper: RuleDumper, value: str) -> yaml.ScalarNode:
    style = '"' if AMBIGUOUS_TEXT.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_list(dumper: RuleDumper, value: list) -> yaml.SequenceNode:
    if value and all(isinstance(item, str) for item in value):
        # Codes are written the way the shipped files write them: all quoted, on one line.
        items = [yaml.ScalarNode("tag:yaml.org,2002:str", item, style='"') for item in value]
        return yaml.SequenceNode("tag:yaml.org,2002:seq", items, flow_style=True)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value)


RuleDumper.add_representer(Decimal, _represent_decimal)
RuleDumper.add_representer(str, _represent_text)
RuleDumper.add_representer(list, _represent_list)


def parse_yaml(text: str) -> Any:
    """Parse one YAML document with the rule loader; raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=RuleLoader)  # noqa: S506 - RuleLoader is a SafeLoader


def dump_yaml(document: Any, schema_ref: str | None = None) -> str:
    """Render a document as YAML, with the editor's schema line first when given."""
    body = yaml.dump(
        document,
        Dumper=RuleDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    if schema_ref is None:
        return body
    return f"{SCHEMA_LINE_PREFIX}{schema_ref}\n{body}"
