"""Everything about rendering rows the way ``ovn-nbctl list`` prints them lives here.

Used by the demo and ``ovnlb show``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ovnlb_core.nb import SCHEMA

__all__ = ["atom", "datum", "render_row"]


def _bare(s: str) -> bool:
    # ovsdb's rule: letters, digits, '_', '-', '.', not starting with a digit or '-',
    # and not a word that would read as a boolean.
    if not s or not (s[0].isalpha() or s[0] == "_") or s in ("true", "false"):
        return False
    return all(c.isalnum() or c in "_-." for c in s)


def atom(value: Any) -> str:
    """One OVSDB atom as ovn-nbctl prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    s = str(value)
    if _bare(s):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def datum(value: Any, kind: str) -> str:
    """A column value as ovn-nbctl prints it."""
    if kind == "map":
        items = sorted(dict(value).items())
        return "{" + ", ".join(f"{atom(k)}={atom(v)}" for k, v in items) + "}"
    if kind == "set":
        return "[" + ", ".join(atom(v) for v in sorted(value)) + "]"
    if kind == "optional":
        return "[]" if value is None else atom(value)
    return atom(value)


def render_row(table: str, uuid: str, row: Mapping[str, Any]) -> str:
    """A row in ``ovn-nbctl list`` layout (columns sorted, ``_uuid`` first)."""
    spec = SCHEMA[table]
    width = max(len(c) for c in [*spec, "_uuid"]) + 1
    lines = [f"{'_uuid'.ljust(width)}: {uuid}"]
    for col in sorted(spec):
        lines.append(
            f"{col.ljust(width)}: {datum(row.get(col, spec[col].default()), spec[col].kind)}"
        )
    return "\n".join(lines)
