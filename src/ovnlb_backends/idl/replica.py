"""Everything about the IDL replica and its incrementally kept indexes lives here.

:class:`IndexedIdl` is an ``ovs.db.idl.Idl`` that keeps, from the IDL's change
notifications, indexes by name, by reference, by indexed external_ids keys,
of load balancers by pool key and by ``ip_port_mappings`` pair, and of switch
ports (:func:`ovnlb_core.topology.port_keys`), plus a cache of canonical rows
(:class:`LazyIdlRow` converts heavy reference sets only when read).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import ovs.db.data
import ovs.db.idl
import ovs.db.schema
import ovs.db.types

from ovnlb_backends.idl.datum import canonical, scalar_of
from ovnlb_backends.rowops import bucket, rekey
from ovnlb_core.formats import POOL_PREFIX
from ovnlb_core.nb import SCHEMA, Row
from ovnlb_core.topology import INDEXED_EXTERNAL_IDS, port_keys

__all__ = ["HEAVY", "VERSION", "IndexedIdl", "LazyIdlRow"]

#: (table, column) pairs of SCHEMA that hold references: indexed for :meth:`IdlReader.referrers`.
_REF_COLUMNS: Final[tuple[tuple[str, str], ...]] = tuple(
    (t, c) for t, cols in SCHEMA.items() for c, spec in cols.items() if spec.ref_table
)
_NAMED: Final[tuple[str, ...]] = tuple(t for t, cols in SCHEMA.items() if "name" in cols)


#: The server's per-row version UUID (RFC 7047); see :meth:`IndexedIdl._monitor_version`.
VERSION: Final = "_version"


class IndexedIdl(ovs.db.idl.Idl):  # type: ignore[misc]
    """An ovs Idl that keeps name/referrer indexes and a canonical-row cache.

    The indexes follow the IDL's change notifications. A (re)connection can
    replace the whole replica without notifications (the IDL clears its
    tables when the server cannot resume the monitor), so ``restart_fsm``
    marks everything stale and the next read rebuilds it from the replica.
    """

    def __init__(self, remote: str, helper: Any, *, leader_only: bool) -> None:
        self.stale = True
        self.names: dict[str, dict[str, set[uuidlib.UUID]]] = {t: {} for t in _NAMED}
        self.refs: dict[tuple[str, str], dict[uuidlib.UUID, set[uuidlib.UUID]]] = {
            key: {} for key in _REF_COLUMNS
        }
        self.canon: dict[str, dict[uuidlib.UUID, Row]] = {t: {} for t in SCHEMA}
        #: ``Load_Balancer`` rows by ``pool_*`` external_ids key, and by ip_port_mappings pair.
        self.lb_pool_keys: dict[str, set[uuidlib.UUID]] = {}
        self.lb_mappings: dict[tuple[str, str], set[uuidlib.UUID]] = {}
        #: (table, key) of INDEXED_EXTERNAL_IDS -> value -> rows.
        self.ext_ids: dict[tuple[str, str], dict[str, set[uuidlib.UUID]]] = {
            pair: {} for pair in INDEXED_EXTERNAL_IDS
        }
        self.ext_keys: dict[str, tuple[str, ...]] = {}
        for table, key in sorted(INDEXED_EXTERNAL_IDS):
            self.ext_keys[table] = (*self.ext_keys.get(table, ()), key)
        #: Switch-port index (``topology.port_keys``, switch UUIDs as text) -> ports,
        #: each port's keys in it, and the ports changed since it was refreshed.
        self.ports: dict[tuple[str, str, str], set[uuidlib.UUID]] = {}
        self.port_keys: dict[uuidlib.UUID, set[tuple[str, str, str]]] = {}
        self.dirty_ports: set[uuidlib.UUID] = set()
        self.listeners: list[Callable[[str, Any, Any], None]] = []
        #: Load_Balancer rows whose ``_version`` came from the server of the current
        #: connection. Cluster members keep their own versions of a row, so after a
        #: reconnect (perhaps to another member; a resumed monitor resends only what
        #: changed) a row's version is trusted again only once the row is resent.
        self.version_trusted: set[uuidlib.UUID] = set()
        #: Bumped on every (re)connection: a watcher catches up when it moves.
        self.generation = 0
        super().__init__(remote, helper, leader_only=leader_only)
        self.versioned = self._monitor_version("Load_Balancer")

    def _monitor_version(self, table_name: str) -> bool:
        """Also monitor ``_version`` of ``table_name``; True when that could be arranged.

        ``_version`` changes with every modification of a row. Verifying it
        costs 36 bytes, where verifying ``external_ids`` and ``vips`` sends both
        whole old columns (megabytes for a 10k-member pool). The ovs schema
        parser and the IDL's index refuse names starting with ``_``, so the
        column is added to the IDL's table after construction, before the
        monitor request (sent on the first run) lists the columns.
        """
        table = self.tables.get(table_name)
        idl_column = getattr(ovs.db.idl, "IdlColumn", None)
        if table is None or idl_column is None or not isinstance(table.columns, dict):
            return False
        uuid_type = ovs.db.types.Type(ovs.db.types.BaseType(ovs.db.types.UuidType))
        column = ovs.db.schema.ColumnSchema(VERSION, False, True, uuid_type)
        table._table.columns[VERSION] = column
        table.columns[VERSION] = idl_column(column)
        return True

    def restart_fsm(self) -> None:
        self.stale = True
        self.version_trusted.clear()
        self.generation += 1
        super().restart_fsm()

    # -- index maintenance -------------------------------------------------

    def _index(self, table: str, u: uuidlib.UUID, data: Mapping[str, Any], add: bool) -> None:
        if table in self.names and "name" in data:
            name = scalar_of(data["name"]) or ""
            bucket(self.names[table], name, u, add)
        if table == "Load_Balancer":
            self._index_lb(u, data, add)
        elif table == "Logical_Switch_Port":
            self.dirty_ports.add(u)
        ext_keys = self.ext_keys.get(table)
        if ext_keys and "external_ids" in data:
            values = data["external_ids"].values
            for ext_key in ext_keys:
                atom = values.get(ovs.db.data.Atom.new(ext_key))
                if atom is not None:
                    bucket(self.ext_ids[(table, ext_key)], atom.value, u, add)
        for column in SCHEMA[table]:
            key = (table, column)
            if key not in self.refs or column not in data:
                continue
            index = self.refs[key]
            for atom in data[column].values:
                bucket(index, atom.value, u, add)

    def _index_lb(self, u: uuidlib.UUID, data: Mapping[str, Any], add: bool) -> None:
        if "external_ids" in data:
            for k in data["external_ids"].values:
                if k.value.startswith(POOL_PREFIX):
                    bucket(self.lb_pool_keys, k.value, u, add)
        if "ip_port_mappings" in data:
            for k, v in data["ip_port_mappings"].values.items():
                bucket(self.lb_mappings, (k.value, v.value), u, add)

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        for listener in self.listeners:
            listener(event, row, updates)
        if row._table.name == "Load_Balancer":
            if event == ovs.db.idl.ROW_DELETE:
                self.version_trusted.discard(row.uuid)
            else:
                self.version_trusted.add(row.uuid)
        if self.stale:
            return
        table = row._table.name
        if table not in SCHEMA:
            return
        self.canon[table].pop(row.uuid, None)
        if event == ovs.db.idl.ROW_CREATE:
            self._index(table, row.uuid, row._data, add=True)
        elif event == ovs.db.idl.ROW_DELETE:
            self._index(table, row.uuid, row._data, add=False)
        elif updates is not None:
            # ``updates`` holds the old values of the changed columns only.
            old = updates._data
            self._index(table, row.uuid, old, add=False)
            self._index(table, row.uuid, {c: row._data[c] for c in old}, add=True)
            if table == "Logical_Switch" and "ports" in old:
                # Only the ports that joined or left (a set difference at C speed).
                before = {a.value for a in old["ports"].values}
                after = {a.value for a in row._data["ports"].values}
                self.dirty_ports |= before ^ after
            return
        if table == "Logical_Switch" and row._data is not None:
            self.dirty_ports.update(a.value for a in row._data["ports"].values)

    def refresh_ports(self) -> None:
        """Bring the switch-port index up to date for the ports changed since last time."""
        if not self.dirty_ports:
            return
        lsps = self.tables["Logical_Switch_Port"].rows
        holders = self.refs[("Logical_Switch", "ports")]
        for u in self.dirty_ports:
            row = lsps.get(u)
            keys: set[tuple[str, str, str]] = set()
            if row is not None and row._data is not None:
                data = row._data
                # port_keys reads only these two columns: no canonical conversion.
                small = {
                    "type": scalar_of(data["type"]) or "",
                    "addresses": [a.value for a in data["addresses"].values],
                }
                for ls in holders.get(u, ()):
                    keys |= port_keys(str(ls), small)
            rekey(self.ports, self.port_keys, u, keys)
        self.dirty_ports.clear()

    def ensure_fresh(self) -> None:
        """Rebuild indexes and drop cached rows after a (re)connection."""
        if not self.stale:
            return
        for named in self.names.values():
            named.clear()
        for index in self.refs.values():
            index.clear()
        self.lb_pool_keys.clear()
        self.lb_mappings.clear()
        for ext in self.ext_ids.values():
            ext.clear()
        self.ports.clear()
        self.port_keys.clear()
        self.dirty_ports.clear()
        for cache in self.canon.values():
            cache.clear()
        for table in SCHEMA:
            for u, row in self.tables[table].rows.items():
                self._index(table, u, row._data, add=True)
        # Built now, with the connection, not in the first request.
        self.refresh_ports()
        # Until the monitor reply is in, the replica may still be replaced
        # without notifications: stay stale so the next read rebuilds again.
        self.stale = self.state != self.IDL_S_MONITORING

    def canonical_row(self, table: str, u: uuidlib.UUID) -> Row | None:
        cache = self.canon[table]
        cached = cache.get(u)
        if cached is not None:
            return cached
        row = self.tables[table].rows.get(u)
        if row is None or row._data is None:
            return None
        data = row._data
        heavy = HEAVY.get(table)
        out: Row
        if heavy:
            out = LazyIdlRow(table, data, heavy)
        else:
            out = {col: canonical(data[col], spec) for col, spec in SCHEMA[table].items()}
        cache[u] = out
        return out


#: Reference sets that can hold thousands of UUIDs (a network's ports, a busy
#: switch's load balancers): converted only when looked at (:class:`LazyIdlRow`).
HEAVY: Final[dict[str, frozenset[str]]] = {
    "Logical_Switch": frozenset({"ports", "load_balancer"}),
    "Logical_Router": frozenset({"nat", "load_balancer"}),
}


class LazyIdlRow(Mapping[str, Any]):
    """A canonical row whose heavy columns are converted on first access.

    Finding the switch of a load balancer must not cost the conversion of
    the switch's 10k port UUIDs. The row keeps the Datum objects it was
    made from (the IDL replaces a changed column's Datum, never mutates
    it), so it shows one state of the row however the replica moves on.
    """

    def __init__(self, table: str, data: Mapping[str, Any], heavy: frozenset[str]) -> None:
        self._specs = SCHEMA[table]
        self._values: dict[str, Any] = {}
        self._datums: dict[str, Any] = {}
        for col, spec in self._specs.items():
            if col in heavy:
                self._datums[col] = data[col]
            else:
                self._values[col] = canonical(data[col], spec)

    def __getitem__(self, column: str) -> Any:
        try:
            return self._values[column]
        except KeyError:
            datum = self._datums.pop(column)  # KeyError for an unknown column
            value = self._values[column] = canonical(datum, self._specs[column])
            return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)
