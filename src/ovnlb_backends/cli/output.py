"""Output formats of the ``ovnlb`` commands: ``-f json|table|value|yaml`` and ``-c COLUMN``.

As the OpenStack client does: a command produces *records* (one flat dict
per load balancer, say) and, for ``json``/``yaml``, a full document. ``-c``
keeps only the named columns of the records (in the order given); with
``-c`` the JSON and YAML output is the list of records. ``value`` prints the
values of each record separated by spaces, one record per line (for
scripts); ``table`` draws a plain ASCII table. No YAML library is needed:
the documents are plain JSON data, which :func:`to_yaml` writes as block
YAML (strings quoted when YAML would read them as something else).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ovnlb_core.errors import UsageError

__all__ = ["FORMATS", "UsageError", "is_text", "select_columns", "to_yaml", "write_output"]

FORMATS = ("text", "json", "table", "value", "yaml")


def is_text(fmt: str, columns: Sequence[str] | None) -> bool:
    """True for ``-f text`` (the command's own layout), where ``-c`` is a usage error."""
    if fmt != "text":
        return False
    if columns:
        raise UsageError("-c needs -f json, table, value or yaml")
    return True


def select_columns(
    records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None, known: Sequence[str]
) -> list[dict[str, Any]]:
    """``records`` restricted to ``columns`` (all ``known`` columns when None)."""
    wanted = list(columns) if columns else list(known)
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise UsageError(
            f"unknown column {', '.join(map(repr, unknown))} (columns: {', '.join(known)})"
        )
    return [{c: r.get(c) for c in wanted} for r in records]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def _table(records: Sequence[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    cells = [[_cell(r.get(c)) for c in columns] for r in records]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+\n"
    out.write(line)
    out.write("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |\n")
    out.write(line)
    for row in cells:
        out.write("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |\n")
    out.write(line)


_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./:@-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text)


def to_yaml(data: Any, indent: int = 0) -> str:
    """Block YAML for JSON data (dicts, lists, strings, numbers, booleans, None)."""
    pad = " " * indent
    if isinstance(data, Mapping):
        if not data:
            return pad + "{}\n"
        out = []
        for k, v in data.items():
            key = _scalar(str(k))
            if isinstance(v, Mapping | list) and v:
                out.append(f"{pad}{key}:\n{to_yaml(v, indent + 2)}")
            else:
                out.append(f"{pad}{key}: {to_yaml(v).strip()}\n")
        return "".join(out)
    if isinstance(data, list):
        if not data:
            return pad + "[]\n"
        out = []
        for v in data:
            if isinstance(v, Mapping | list) and v:
                body = to_yaml(v, indent + 2)
                out.append(f"{pad}- {body[indent + 2 :]}")
            else:
                out.append(f"{pad}- {to_yaml(v).strip()}\n")
        return "".join(out)
    return pad + _scalar(data) + "\n"


def write_output(
    fmt: str,
    out: TextIO,
    *,
    document: Any,
    records: Sequence[Mapping[str, Any]],
    known: Sequence[str],
    columns: Sequence[str] | None = None,
) -> None:
    """Write ``document``/``records`` in ``fmt`` (``text`` is the caller's own layout)."""
    chosen = select_columns(records, columns, known)
    if fmt == "json":
        out.write(json.dumps(chosen if columns else document, indent=2, sort_keys=True) + "\n")
    elif fmt == "yaml":
        out.write(to_yaml(chosen if columns else document))
    elif fmt == "table":
        _table(chosen, list(columns or known), out)
    elif fmt == "value":
        for r in chosen:
            out.write(" ".join(_cell(v) for v in r.values()) + "\n")
    else:
        raise UsageError(f"unknown output format {fmt!r}")
