"""Everything about ovn-nbctl's value syntax and its JSON output lives here.

Writing: :func:`quote_string` and friends turn canonical values into
ovn-nbctl's own value syntax (strings always as ASCII-only JSON strings, maps
as ``{"k"="v"}``, sets as ``[a, b]``), refusing what cannot be passed.
Reading: :func:`parse_tables` turns ``--format=json`` output into canonical
rows, and :func:`list_cmd` is the ``list`` command that prints them.
"""

from __future__ import annotations

import contextlib
import json
import uuid as uuidlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ovnlb_backends.base import BackendError
from ovnlb_core.nb import SCHEMA, Column

__all__ = [
    "HC",
    "HEAVY",
    "LB",
    "Command",
    "canonical",
    "checked_uuid",
    "column_values",
    "datum_text",
    "json_atom",
    "light_columns",
    "list_cmd",
    "map_items",
    "parse_tables",
    "quote_string",
    "split_tables",
    "value_atom",
]

LB: Final = "Load_Balancer"
HC: Final = "Load_Balancer_Health_Check"

#: One ovn-nbctl command (its argv strings, without the ``--`` separators).
Command = list[str]


def quote_string(value: str, where: str = "value") -> str:
    """``value`` as an ovn-nbctl string atom: a double-quoted JSON string (ASCII only).

    Quoted strings are always strings for ovn-nbctl (``"true"``, ``"12"`` or a
    UUID-looking text included). OVSDB strings cannot hold NUL, and unpaired
    surrogates are no Unicode: both are refused here.
    """
    if not isinstance(value, str):
        raise BackendError(f"{where}: {value!r} is not a string")
    if "\x00" in value:
        raise BackendError(f"{where}: {value!r}: OVSDB strings cannot contain NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BackendError(f"{where}: {value!r} is not valid Unicode") from None
    return json.dumps(value, ensure_ascii=True)


def value_atom(spec: Column, value: Any, where: str) -> str:
    if spec.atom == "string":
        return quote_string(value, where)
    if spec.atom == "boolean":
        if not isinstance(value, bool):
            raise BackendError(f"{where}: {value!r} is not a boolean")
        return "true" if value else "false"
    if spec.atom == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise BackendError(f"{where}: {value!r} is not an integer")
        return str(value)
    return checked_uuid(value, where)


def checked_uuid(value: Any, where: str) -> str:
    """``value`` as a UUID in canonical form (ovn-nbctl would read other text as a name)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return str(uuidlib.UUID(value))
    raise BackendError(f"{where}: {value!r} is not a UUID")


def map_items(value: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(value, Mapping):
        raise BackendError(f"{where}: expected a map of strings, got {value!r}")
    return [(quote_string(k, where), quote_string(v, where)) for k, v in value.items()]


def datum_text(spec: Column, value: Any, where: str) -> str:
    """A whole column value in ovn-nbctl syntax (for ``create`` and ``set col=...``)."""
    if spec.kind == "map":
        return "{" + ", ".join(f"{k}={v}" for k, v in map_items(value, where)) + "}"
    if spec.kind == "set":
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise BackendError(f"{where}: expected a set, got {value!r}")
        return "[" + ", ".join(value_atom(spec, v, where) for v in value) + "]"
    if spec.kind == "optional" and value is None:
        return "[]"
    return value_atom(spec, value, where)


def json_atom(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and value[0] in ("uuid", "named-uuid"):
        return value[1]
    return value


def canonical(spec: Column, cell: Any) -> Any:
    """One ``--format=json`` cell in the canonical form of :mod:`ovnlb_core.nb`."""
    if spec.kind == "map":
        if not (isinstance(cell, list) and len(cell) == 2 and cell[0] == "map"):
            raise BackendError(f"ovn-nbctl printed {cell!r} for a map column")
        return {json_atom(k): json_atom(v) for k, v in cell[1]}
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "set":
        atoms = [json_atom(a) for a in cell[1]]
    else:  # a set of one element is printed as the bare atom
        atoms = [json_atom(cell)]
    if spec.kind == "set":
        return tuple(sorted(atoms))
    if spec.kind == "optional":
        return atoms[0] if atoms else None
    return atoms[0] if atoms else spec.default()


def parse_tables(out: str, tables: Sequence[str]) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """The JSON objects ovn-nbctl printed, one per ``list``/``find`` command, as rows.

    Rows hold the printed columns (``_uuid`` aside) in canonical form.
    """
    return split_tables(out, tables)[0]


def split_tables(
    out: str, tables: Sequence[str]
) -> tuple[list[tuple[str, dict[str, dict[str, Any]]]], str]:
    """:func:`parse_tables` of the first ``len(tables)`` objects, and the text after them
    (what later non-table commands, such as ``get``, printed)."""
    decoder = json.JSONDecoder()
    result: list[tuple[str, dict[str, dict[str, Any]]]] = []
    pos = 0
    try:
        for table in tables:
            while pos < len(out) and out[pos].isspace():
                pos += 1
            doc, pos = decoder.raw_decode(out, pos)
            headings = doc["headings"]
            specs = SCHEMA[table]
            rows: dict[str, dict[str, Any]] = {}
            for cells in doc["data"]:
                record = dict(zip(headings, cells, strict=True))
                uuid = json_atom(record.pop("_uuid"))
                rows[uuid] = {col: canonical(specs[col], v) for col, v in record.items()}
            result.append((table, rows))
    except (ValueError, KeyError, TypeError) as exc:
        raise BackendError(f"cannot parse ovn-nbctl output: {exc}: {out[:200]!r}") from None
    return result, out[pos:]


def column_values(out: str) -> list[Any]:
    """The cells of the one-column JSON object ovn-nbctl printed first in ``out``, in order."""
    try:
        doc, _pos = json.JSONDecoder().raw_decode(out, len(out) - len(out.lstrip()))
        return [cells[0] for cells in doc["data"]]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise BackendError(f"cannot parse ovn-nbctl output: {exc}: {out[:200]!r}") from None


def list_cmd(table: str, records: Sequence[str] = (), *, if_exists: bool = False) -> Command:
    cols = ",".join(["_uuid", *SCHEMA[table]])
    return [*(["--if-exists"] if if_exists else []), f"--columns={cols}", "list", table, *records]


#: Columns that can hold thousands of references (a network's ports, the load
#: balancers of a busy switch): targeted reads leave them out and fetch them only
#: when a row's value is looked at (:class:`~ovnlb_backends.nbctl.reader.NbctlReader`).
HEAVY: Final[dict[str, tuple[str, ...]]] = {
    "Logical_Switch": ("ports", "load_balancer"),
    "Logical_Router": ("nat", "load_balancer"),
}


def light_columns(table: str) -> list[str]:
    heavy = HEAVY.get(table, ())
    return [c for c in SCHEMA[table] if c not in heavy]
