"""Everything about the memory backend's committed state lives here: :class:`MemoryStore`.

The tables of :data:`ovnlb_core.nb.SCHEMA` and the indexes kept up to date
by each commit (by name, by reference, load balancers by pool key and by
``ip_port_mappings`` pair, indexed external_ids, the switch-port index), and
the read views handed out.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from ovnlb_backends.memory.reader import MemoryReader
from ovnlb_backends.memory.values import (
    REF_COLUMNS,
    RefKey,
    Rows,
)
from ovnlb_backends.rowops import bucket, rekey
from ovnlb_core.formats import POOL_PREFIX
from ovnlb_core.nb import NAMED_TABLES, SCHEMA, NbSnapshot
from ovnlb_core.topology import INDEXED_EXTERNAL_IDS, port_keys

__all__ = ["MemoryStore"]


class MemoryStore:
    """The committed tables of the memory backend and their indexes."""

    def __init__(self) -> None:
        self.tables: dict[str, Rows] = {table: {} for table in SCHEMA}
        self.names: dict[str, dict[str, set[str]]] = {
            table: {} for table in SCHEMA if table in NAMED_TABLES
        }
        self.refs: dict[RefKey, dict[str, set[str]]] = {
            (table, col): {} for table, cols in REF_COLUMNS.items() for col, _ in cols
        }
        #: ``pool_*`` external_ids key -> the Load_Balancer rows holding it.
        self.lb_pool_keys: dict[str, set[str]] = {}
        #: ``(key, value)`` of ip_port_mappings -> the Load_Balancer rows holding it.
        self.lb_mappings: dict[tuple[str, str], set[str]] = {}
        #: (table, key) of INDEXED_EXTERNAL_IDS -> value -> rows.
        self.ext_ids: dict[tuple[str, str], dict[str, set[str]]] = {
            pair: {} for pair in INDEXED_EXTERNAL_IDS
        }
        self.ext_tables: dict[str, tuple[str, ...]] = {}
        for table, key in sorted(INDEXED_EXTERNAL_IDS):
            self.ext_tables[table] = (*self.ext_tables.get(table, ()), key)
        #: Switch-port index (``topology.port_keys``) -> ports; each port's keys in it.
        self.ports: dict[tuple[str, str, str], set[str]] = {}
        self.port_keys: dict[str, set[tuple[str, str, str]]] = {}
        #: Ports whose row or switches changed since the switch-port index was refreshed.
        self.dirty_ports: set[str] = set()
        #: Tables whose dict ``MemoryReader.rows`` handed out (copied on write).
        self.handed_out: set[str] = set()
        #: The readers taken (those alive may share the table dicts).
        self.readers: list[weakref.ref[MemoryReader]] = []
        self.generation = 0
        self.view: MemoryReader | None = None
        self.txns = 0

    def index_pool_keys(
        self, uuid: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        old_keys = [k for k in old["external_ids"] if k.startswith(POOL_PREFIX)] if old else []
        new_keys = [k for k in new["external_ids"] if k.startswith(POOL_PREFIX)] if new else []
        if old_keys == new_keys:
            return
        index = self.lb_pool_keys
        for key in old_keys:
            bucket(index, key, uuid, add=False)
        for key in new_keys:
            bucket(index, key, uuid, add=True)

    def index_mappings(
        self, uuid: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        before = old["ip_port_mappings"] if old else {}
        after = new["ip_port_mappings"] if new else {}
        if before is after or before == after:
            return
        for k, v in before.items():
            if after.get(k) != v:
                bucket(self.lb_mappings, (k, v), uuid, add=False)
        for k, v in after.items():
            if before.get(k) != v:
                bucket(self.lb_mappings, (k, v), uuid, add=True)

    def index_ext_ids(
        self, table: str, uuid: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        for key in self.ext_tables[table]:
            before = old["external_ids"].get(key) if old else None
            after = new["external_ids"].get(key) if new else None
            if before == after:
                continue
            index = self.ext_ids[(table, key)]
            if before is not None:
                bucket(index, before, uuid, add=False)
            if after is not None:
                bucket(index, after, uuid, add=True)

    def refresh_ports(self) -> None:
        """Bring the switch-port index up to date for the ports changed since last time.

        Done when a reader asks, so a commit pays nothing for it and a load
        of many ports costs one pass.
        """
        if not self.dirty_ports:
            return
        lsps = self.tables["Logical_Switch_Port"]
        holders = self.refs[("Logical_Switch", "ports")]
        for lsp in self.dirty_ports:
            row = lsps.get(lsp)
            keys: set[tuple[str, str, str]] = set()
            if row is not None:
                for ls in holders.get(lsp, ()):
                    keys |= port_keys(ls, row)
            rekey(self.ports, self.port_keys, lsp, keys)
        self.dirty_ports.clear()

    def reader(self) -> MemoryReader:
        """A consistent read view of the current rows (a snapshot; cheap, see MemoryReader)."""
        if self.view is None:
            self.view = MemoryReader(self, dict(self.tables), self.generation)
            self.readers.append(weakref.ref(self.view))
        return self.view

    def snapshot(self) -> NbSnapshot:
        """An :class:`~ovnlb_core.nb.NbSnapshot` of the current rows (rows shared, not copied)."""
        return NbSnapshot({table: dict(rows) for table, rows in self.tables.items()})

    def transaction_count(self) -> int:
        """How many write transactions were committed (loading ``nb_initial`` counts as one)."""
        return self.txns

    def connected(self) -> bool:
        """Always True: the rows are in this process."""
        return True

    def schema_version(self) -> str | None:
        """None: no server announced a schema."""
        return None

    def close(self) -> None:
        """Nothing to release."""
