"""Everything about reading the IDL replica lives here: :class:`IdlReader`.

A lazy, indexed canonical read view: rows are converted when looked at, and
every lookup of :class:`ovnlb_backends.base.Reader` goes through an index of
:class:`~ovnlb_backends.idl.replica.IndexedIdl`.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator, Mapping, Sequence

from ovnlb_backends.idl.replica import IndexedIdl
from ovnlb_core.formats import POOL_PREFIX
from ovnlb_core.nb import SCHEMA, NbReader, Row

__all__ = ["IdlReader", "parse_uuid"]


def parse_uuid(value: str) -> uuidlib.UUID | None:
    try:
        return uuidlib.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


class _LazyTable(Mapping[str, Row]):
    """``uuid -> canonical row`` over one IDL table; converts a row when read."""

    def __init__(self, idl: IndexedIdl, table: str) -> None:
        self._idl = idl
        self._table = table
        self._rows = idl.tables[table].rows

    def __getitem__(self, key: str) -> Row:
        u = parse_uuid(key)
        row = None if u is None else self._idl.canonical_row(self._table, u)
        if row is None:
            raise KeyError(key)
        return row

    def __iter__(self) -> Iterator[str]:
        return (str(u) for u in list(self._rows.keys()))

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        u = parse_uuid(key) if isinstance(key, str) else None
        return u is not None and u in self._rows


class IdlReader(NbReader):
    """Canonical read view over the IDL replica (lazy, indexed).

    Rows are shared with the backend's cache: treat them as read-only. The
    view follows the replica, which changes only inside the backend's methods
    (``reader``, ``commit``, ``apply_raw``, ``wait_for``).
    """

    def __init__(self, idl: IndexedIdl) -> None:
        self._idl = idl

    def rows(self, table: str) -> Mapping[str, Row]:
        """All rows of ``table``, keyed by UUID (converted on access)."""
        if table not in SCHEMA:
            return {}
        self._idl.ensure_fresh()
        return _LazyTable(self._idl, table)

    def _rows_for(self, table: str, uuids: set[uuidlib.UUID] | None) -> list[tuple[str, Row]]:
        out: list[tuple[str, Row]] = []
        for u in sorted(uuids or ()):
            row = self._idl.canonical_row(table, u)
            if row is not None:
                out.append((str(u), row))
        return out

    def by_name(self, table: str, name: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose ``name`` equals ``name`` (index lookup)."""
        if table not in self._idl.names:
            return []
        self._idl.ensure_fresh()
        return self._rows_for(table, self._idl.names[table].get(name))

    def _in_table_order(self, table: str, uuids: set[uuidlib.UUID]) -> list[tuple[str, Row]]:
        """Like :meth:`_rows_for`, in the order ``rows(table)`` iterates."""
        order = list(uuids)
        if len(order) > 1:
            order = [u for u in self._idl.tables[table].rows if u in uuids]
        out: list[tuple[str, Row]] = []
        for u in order:
            row = self._idl.canonical_row(table, u)
            if row is not None:
                out.append((str(u), row))
        return out

    def load_balancers_with_external_id(self, keys: Sequence[str]) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows whose external_ids has one of ``keys`` (index for ``pool_*``).

        In the order :meth:`rows` iterates them (keys not starting ``pool_`` are scanned).
        """
        self._idl.ensure_fresh()
        uuids: set[uuidlib.UUID] = set()
        for key in keys:
            if key.startswith(POOL_PREFIX):
                uuids |= self._idl.lb_pool_keys.get(key, set())
            else:
                for u in self._idl.tables["Load_Balancer"].rows:
                    row = self._idl.canonical_row("Load_Balancer", u)
                    if row is not None and key in row["external_ids"]:
                        uuids.add(u)
        return self._in_table_order("Load_Balancer", uuids)

    def load_balancers_with_mapping(self, key: str, value: str) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows with ``ip_port_mappings[key] == value`` (index lookup)."""
        self._idl.ensure_fresh()
        return self._in_table_order(
            "Load_Balancer", set(self._idl.lb_mappings.get((key, value), ()))
        )

    def row(self, table: str, uuid: str) -> Row | None:
        """Row ``uuid`` of ``table`` (converted on access), or None."""
        u = parse_uuid(uuid)
        if u is None or table not in SCHEMA:
            return None
        self._idl.ensure_fresh()
        return self._idl.canonical_row(table, u)

    def _switch_ports(self, key: tuple[str, str, str]) -> list[tuple[str, Row]]:
        self._idl.ensure_fresh()
        self._idl.refresh_ports()
        return self._rows_for("Logical_Switch_Port", self._idl.ports.get(key))

    def switch_ports_of_type(self, ls_uuid: str, port_type: str) -> list[tuple[str, Row]]:
        """Ports of switch ``ls_uuid`` whose ``type`` is ``port_type`` (index), by UUID."""
        return self._switch_ports((ls_uuid, "type", port_type))

    def switch_ports_with_address(self, ls_uuid: str, address: str) -> list[tuple[str, Row]]:
        """Ports of switch ``ls_uuid`` with the token ``address`` in ``addresses`` (index)."""
        return self._switch_ports((ls_uuid, "addr", address))

    def rows_with_external_id(self, table: str, key: str, value: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` with ``external_ids[key] == value`` (index), by UUID."""
        index = self._idl.ext_ids.get((table, key))
        if index is None:
            raise KeyError(f"{table} external_ids:{key} is not indexed")
        self._idl.ensure_fresh()
        return self._rows_for(table, index.get(value))

    def referrers(self, table: str, column: str, uuid: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose reference column ``column`` holds ``uuid`` (index lookup).

        E.g. ``referrers("Logical_Switch", "load_balancer", lb_uuid)``.
        """
        index = self._idl.refs.get((table, column))
        target = parse_uuid(uuid)
        if index is None:
            raise KeyError(f"{table}.{column} is not an indexed reference column")
        if target is None:
            return []
        self._idl.ensure_fresh()
        return self._rows_for(table, index.get(target))
