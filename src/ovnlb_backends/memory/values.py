"""Everything about what the memory backend accepts as a value lives here.

The NB schema's constraints that :data:`ovnlb_core.nb.SCHEMA` does not carry
(enums, integer ranges, unique names, lowercase UUIDs), type checks and
coercion to the canonical form, and the per-key/per-element edits of map and
set columns, done the way ovsdb-server does them.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ovnlb_backends.base import BackendError
from ovnlb_core.nb import SCHEMA, Column, full_row
from ovnlb_core.plan import (
    MapDelta,
)

__all__ = [
    "ENUMS",
    "RANGES",
    "REF_COLUMNS",
    "STRONG_TO",
    "UNIQUE_NAME",
    "WEAK_TO",
    "RefKey",
    "Rows",
    "check_atom",
    "coerce",
    "complete_row",
    "edit_set",
    "mutate_map",
    "ref_targets",
    "refs_to",
    "sorted_contains",
]


Rows = dict[str, dict[str, Any]]
RefKey = tuple[str, str]  # (referring table, column)


#: Value constraints of the real NB schema 7.0.0 that nb.SCHEMA does not carry.
ENUMS: Final[dict[RefKey, frozenset[str]]] = {
    ("Load_Balancer", "protocol"): frozenset({"tcp", "udp", "sctp"}),
    ("Load_Balancer", "selection_fields"): frozenset(
        {"eth_src", "eth_dst", "ip_src", "ip_dst", "tp_src", "tp_dst"}
    ),
    ("NAT", "type"): frozenset({"dnat", "snat", "dnat_and_snat"}),
}
RANGES: Final[dict[RefKey, tuple[int, int]]] = {
    ("Gateway_Chassis", "priority"): (0, 32767),
    ("HA_Chassis", "priority"): (0, 32767),
}
#: Tables with a unique index on ``name`` in the real schema.
UNIQUE_NAME: Final = frozenset(
    {"Logical_Switch_Port", "Logical_Router_Port", "Gateway_Chassis", "HA_Chassis_Group"}
)

REF_COLUMNS: Final[dict[str, tuple[tuple[str, Column], ...]]] = {
    table: tuple((col, spec) for col, spec in cols.items() if spec.ref_table is not None)
    for table, cols in SCHEMA.items()
}


def refs_to(weak: bool) -> dict[str, tuple[RefKey, ...]]:
    out: dict[str, list[RefKey]] = {}
    for table, cols in REF_COLUMNS.items():
        for col, spec in cols:
            if spec.weak == weak and spec.ref_table is not None:
                out.setdefault(spec.ref_table, []).append((table, col))
    return {target: tuple(keys) for target, keys in out.items()}


STRONG_TO: Final = refs_to(weak=False)
WEAK_TO: Final = refs_to(weak=True)


def ref_targets(spec: Column, value: Any) -> tuple[str, ...]:
    if spec.kind == "set":
        return tuple(value)
    return () if value is None else (value,)


def check_atom(table: str, col: str, spec: Column, value: Any) -> None:
    ok = {
        "string": isinstance(value, str),
        "uuid": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }[spec.atom]
    if not ok:
        raise BackendError(f"{table}.{col}: {value!r} is not of type {spec.atom}")
    enum = ENUMS.get((table, col))
    if enum is not None and value not in enum:
        raise BackendError(f"{table}.{col}: {value!r} is not one of {sorted(enum)}")
    bounds = RANGES.get((table, col))
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise BackendError(f"{table}.{col}: {value!r} is out of range {bounds}")


def coerce(table: str, col: str, value: Any) -> Any:
    """``value`` checked against the schema and put in canonical form."""
    spec = SCHEMA[table].get(col)
    if spec is None:
        raise BackendError(f"unknown column {table}.{col}")
    if spec.kind == "map":
        if not isinstance(value, Mapping):
            raise BackendError(f"{table}.{col}: {value!r} is not a map")
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise BackendError(f"{table}.{col}: {k!r}: {v!r} is not a string pair")
        return dict(value)
    if spec.kind == "set":
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise BackendError(f"{table}.{col}: {value!r} is not a set")
        items = set(value)
        for item in items:
            check_atom(table, col, spec, item)
        return tuple(sorted(items))
    if spec.kind == "optional" and value is None:
        return None
    check_atom(table, col, spec, value)
    return value


def complete_row(table: str, columns: Mapping[str, Any]) -> dict[str, Any]:
    return full_row(table, {col: coerce(table, col, v) for col, v in columns.items()})


def mutate_map(row: dict[str, Any], col: str, delta: MapDelta, table: str) -> None:
    if not delta:
        return
    value = dict(row[col])
    for key in delta.delete:
        value.pop(key, None)
    value.update(delta.set)
    row[col] = coerce(table, col, value)


def sorted_contains(values: tuple[str, ...], item: str) -> bool:
    i = bisect.bisect_left(values, item)
    return i < len(values) and values[i] == item


def edit_set(
    values: tuple[str, ...], adds: Iterable[str], removes: Iterable[str]
) -> tuple[tuple[str, ...], set[str], set[str]]:
    """``(values - removes) | adds`` of a sorted tuple, with the items really added and removed.

    A few edits of a large set (a switch holding thousands of load balancers)
    cost O(log n) lookups and one copy per edit instead of rebuilding the set.
    """
    adds = set(adds)
    added = {v for v in adds if not sorted_contains(values, v)}
    removed = {v for v in removes if v not in adds and sorted_contains(values, v)}
    if len(added) + len(removed) > 8:
        return tuple(sorted((set(values) - removed) | added)), added, removed
    out = values
    for v in removed:
        i = bisect.bisect_left(out, v)
        out = out[:i] + out[i + 1 :]
    for v in added:
        i = bisect.bisect_left(out, v)
        out = (*out[:i], v, *out[i:])
    return out, added, removed
