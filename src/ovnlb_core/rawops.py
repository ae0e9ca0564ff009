"""Neutron-style raw row operations, as conformance files carry them.

Conformance files name rows instead of giving UUIDs (``_name``: the ``name``
column, ``<group>/<chassis>`` for ``HA_Chassis``, ``nat-<fip id>`` for
``NAT``) and write references by name. :func:`resolve` turns such a list into
UUID-based :class:`RowInsert` / :class:`RowUpdate` / :class:`RowDelete`
operations a backend applies in one transaction.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ovnlb_core.errors import RawOpError as RawOpError
from ovnlb_core.nb import NAMED_TABLES, SCHEMA, NbReader, Row

RawOp = Mapping[str, Any]

#: Namespace of the deterministic UUIDs given to rows inserted by raw operations.
RAW_NAMESPACE = uuidlib.UUID("6c1b3f0e-5d8a-4b7e-9a51-0f2d7c3e8a14")


@attrs.frozen
class RowInsert:
    """Insert a row; ``uuid`` is the UUID it should get (a hint for backends that cannot choose)."""

    table: str
    uuid: str
    columns: Mapping[str, Any]


@attrs.frozen
class RowUpdate:
    """Set whole columns of an existing row."""

    table: str
    uuid: str
    columns: Mapping[str, Any]


@attrs.frozen
class RowDelete:
    """Delete an existing row."""

    table: str
    uuid: str


ResolvedOp = RowInsert | RowUpdate | RowDelete


def insert_uuid(table: str, name: str) -> str:
    """The deterministic UUID of a row inserted by a raw operation."""
    return str(uuidlib.uuid5(RAW_NAMESPACE, f"{table}/{name}"))


def row_name(reader: NbReader, table: str, uuid: str, row: Row) -> str | None:
    """The conformance ``_name`` of an existing row, or None for tables without names."""
    if table in NAMED_TABLES:
        return str(row.get("name", ""))
    if table == "NAT":
        fip = row.get("external_ids", {}).get("neutron:fip_id")
        return f"nat-{fip}" if fip else None
    if table == "HA_Chassis":
        for _gu, group in reader.rows("HA_Chassis_Group").items():
            if uuid in group.get("ha_chassis", ()):
                return f"{group.get('name', '')}/{row.get('chassis_name', '')}"
        return None
    return None


def _name_index(reader: NbReader, table: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for u, row in reader.rows(table).items():
        name = row_name(reader, table, u, row)
        if name is not None:
            out.setdefault(name, u)
    return out


def resolve(reader: NbReader, ops: Sequence[RawOp]) -> list[ResolvedOp]:
    """Resolve raw operations against ``reader`` (plus the rows the list itself inserts)."""
    indexes: dict[str, dict[str, str]] = {}

    def index(table: str) -> dict[str, str]:
        if table not in indexes:
            indexes[table] = _name_index(reader, table)
        return indexes[table]

    for op in ops:
        if op["op"] == "insert":
            name = op["row"]["_name"]
            index(op["table"])[name] = insert_uuid(op["table"], name)

    def lookup(table: str, name: str) -> str:
        try:
            return index(table)[name]
        except KeyError:
            raise RawOpError(f"no {table} row named {name!r}") from None

    def convert(table: str, columns: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        spec = SCHEMA[table]
        for col, value in columns.items():
            if col == "_name":
                continue
            if col not in spec:
                raise RawOpError(f"unknown column {table}.{col}")
            c = spec[col]
            if c.ref_table is not None:
                if c.kind == "set":
                    value = tuple(sorted(lookup(c.ref_table, v) for v in value))
                else:
                    value = None if value is None else lookup(c.ref_table, value)
            elif c.kind == "set":
                value = tuple(sorted(value))
            elif c.kind == "map":
                value = dict(value)
            out[col] = value
        return out

    resolved: list[ResolvedOp] = []
    for op in ops:
        table = op["table"]
        if table not in SCHEMA:
            raise RawOpError(f"unknown table {table}")
        if op["op"] == "insert":
            name = op["row"]["_name"]
            resolved.append(RowInsert(table, insert_uuid(table, name), convert(table, op["row"])))
        elif op["op"] == "update":
            resolved.append(
                RowUpdate(table, lookup(table, op["name"]), convert(table, op["columns"]))
            )
        elif op["op"] == "delete":
            resolved.append(RowDelete(table, lookup(table, op["name"])))
        else:
            raise RawOpError(f"unknown raw op {op['op']!r}")
    return resolved


def initial_ops(nb_initial: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[RawOp]:
    """The raw insert operations that load a conformance file's ``nb_initial``."""
    return [
        {"op": "insert", "table": table, "row": row}
        for table, rows in nb_initial.items()
        for row in rows
    ]
