"""Everything about reading the memory backend lives here: :class:`MemoryReader`.

A consistent snapshot sharing the store's table dicts (copy on write or
undo records), answering lookups through the store's indexes while current.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ovnlb_backends.memory.values import (
    Rows,
    ref_targets,
)
from ovnlb_core.formats import POOL_PREFIX
from ovnlb_core.nb import NAMED_TABLES, SCHEMA, Row
from ovnlb_core.topology import INDEXED_EXTERNAL_IDS, ScannedReader

__all__ = ["MemoryReader"]

if TYPE_CHECKING:
    from ovnlb_backends.memory.store import MemoryStore


class MemoryReader:
    """A read view of a :class:`MemoryBackend` (implements :class:`~ovnlb_core.nb.NbReader`).

    It is a consistent snapshot: ``rows`` keeps showing the state of the
    moment the view was taken, also after later commits. ``by_name`` and
    ``referrers`` use the backend's indexes while the view is current and fall
    back to a scan of the snapshot once a commit has made it stale.

    The view shares the backend's table dicts. A commit changing a table whose
    dict a live view shares either copies the dict (when ``rows`` of any view
    handed it out: a proxy of it may be held; or when the commit deletes a
    row of it) or, in O(rows changed), records in the view the rows it
    replaces (``_undo``); the view applies them to a copy of its own the first
    time it needs the whole table (rows updated keep their place, rows
    inserted go: the snapshot's order).
    """

    def __init__(self, backend: MemoryStore, tables: dict[str, Rows], generation: int) -> None:
        self._backend = backend
        self.tables = tables
        self._generation = generation
        #: Per table still shared with the backend: the snapshot's version of each
        #: row changed since (None: the row did not exist).
        self.undo: dict[str, dict[str, dict[str, Any] | None]] = {}
        self._scan: ScannedReader | None = None

    def _current(self) -> bool:
        return self._generation == self._backend.generation

    def _table(self, table: str) -> Rows:
        """The snapshot's dict of ``table`` (made private when commits changed it)."""
        undo = self.undo.pop(table, None)
        if undo is not None:
            rows = dict(self.tables[table])
            for uuid, old in undo.items():
                if old is None:
                    rows.pop(uuid, None)
                else:
                    rows[uuid] = old
            self.tables[table] = rows
        return self.tables.get(table, {})

    def rows(self, table: str) -> Mapping[str, Row]:
        """All rows of ``table``, keyed by UUID (read-only)."""
        rows = self._table(table)
        if rows is self._backend.tables.get(table):
            # A proxy of the backend's dict may outlive this view: copy on write.
            self._backend.handed_out.add(table)
        return MappingProxyType(rows)

    def load_balancers_with_external_id(self, keys: Sequence[str]) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows whose external_ids has one of ``keys``, in :meth:`rows` order.

        Looked up in the backend's index of ``pool_*`` keys while the view is
        current (and the answer one row), else a scan; either way the table is
        not handed out (see the class docstring).
        """
        rows = self._table("Load_Balancer")
        if self._current() and all(k.startswith(POOL_PREFIX) for k in keys):
            index = self._backend.lb_pool_keys
            uuids: set[str] = set()
            for key in keys:
                uuids.update(index.get(key, ()))
            if len(uuids) <= 1:
                return [(u, rows[u]) for u in uuids]
        return [(u, r) for u, r in rows.items() if any(k in r["external_ids"] for k in keys)]

    def load_balancers_with_mapping(self, key: str, value: str) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows with ``ip_port_mappings[key] == value``, sorted by UUID."""
        rows = self._table("Load_Balancer")
        if self._current():
            uuids: Iterable[str] = self._backend.lb_mappings.get((key, value), ())
        else:
            uuids = [u for u, r in rows.items() if r["ip_port_mappings"].get(key) == value]
        return [(u, rows[u]) for u in sorted(uuids)]

    def row(self, table: str, uuid: str) -> Row | None:
        """Row ``uuid`` of ``table`` in this snapshot, or None."""
        return self._table(table).get(uuid)

    def _scanned(self) -> ScannedReader:
        """Scan-built indexes of this snapshot (for a view made stale by a commit)."""
        if self._scan is None:
            self._scan = ScannedReader(self)
        return self._scan

    def _switch_ports(self, key: tuple[str, str, str]) -> list[tuple[str, Row]]:
        self._backend.refresh_ports()
        rows = self._table("Logical_Switch_Port")
        return [(u, rows[u]) for u in sorted(self._backend.ports.get(key, ()))]

    def switch_ports_of_type(self, ls_uuid: str, port_type: str) -> list[tuple[str, Row]]:
        """Ports of switch ``ls_uuid`` whose ``type`` is ``port_type`` (index), by UUID."""
        if not self._current():
            return self._scanned().switch_ports_of_type(ls_uuid, port_type)
        return self._switch_ports((ls_uuid, "type", port_type))

    def switch_ports_with_address(self, ls_uuid: str, address: str) -> list[tuple[str, Row]]:
        """Ports of switch ``ls_uuid`` with the token ``address`` in ``addresses`` (index)."""
        if not self._current():
            return self._scanned().switch_ports_with_address(ls_uuid, address)
        return self._switch_ports((ls_uuid, "addr", address))

    def rows_with_external_id(self, table: str, key: str, value: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` with ``external_ids[key] == value`` (index), by UUID."""
        if (table, key) not in INDEXED_EXTERNAL_IDS:
            raise KeyError(f"{table} external_ids:{key} is not indexed")
        if not self._current():
            return self._scanned().rows_with_external_id(table, key, value)
        rows = self._table(table)
        uuids = self._backend.ext_ids[(table, key)].get(value, ())
        return [(u, rows[u]) for u in sorted(uuids)]

    def by_name(self, table: str, name: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose ``name`` column equals ``name``, sorted by UUID."""
        if table not in NAMED_TABLES:
            return []
        rows = self._table(table)
        if self._current():
            uuids: Iterable[str] = self._backend.names.get(table, {}).get(name, ())
        else:
            uuids = [u for u, row in rows.items() if row.get("name") == name]
        return [(u, rows[u]) for u in sorted(uuids)]

    def referrers(self, table: str, column: str, uuid: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose reference column ``column`` holds ``uuid``, sorted by UUID."""
        spec = SCHEMA.get(table, {}).get(column)
        if spec is None or spec.ref_table is None:
            raise KeyError(f"{table}.{column} is not a reference column")
        rows = self._table(table)
        if self._current():
            uuids: Iterable[str] = self._backend.refs[(table, column)].get(uuid, ())
        else:
            uuids = [u for u, row in rows.items() if uuid in ref_targets(spec, row[column])]
        return [(u, rows[u]) for u in sorted(uuids)]
