"""An in-memory NB database with OVSDB transaction semantics.

:class:`MemoryBackend` is the reference backend of the conformance suite and
the fake of the unit tests. It keeps the tables of :data:`ovnlb_core.nb.SCHEMA`
and applies a :class:`~ovnlb_core.plan.Plan` or raw row operations the way
ovsdb-server applies one transaction:

* all or nothing: every operation is staged first; any error (unknown row,
  duplicate UUID, missing switch, value of the wrong type, referential
  integrity) raises :class:`~ovnlb_backends.base.BackendError` and leaves the
  committed state untouched;
* map columns change per key (``mutate`` delete, then insert);
* weak references (``load_balancer`` of switches and routers) to deleted rows
  disappear; rows of non-root tables that no strong reference points at are
  garbage collected; a strong reference to a missing row, or a deleted row
  still strongly referenced, is an integrity violation.

It is stricter than the ovs IDL, which drops a value of the wrong type and
commits anyway: this backend rejects what ovsdb-server would reject (types,
enums, integer ranges, unique ``name`` indexes, malformed inserted UUIDs).
"""

from __future__ import annotations

import bisect
import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from ovnlb_backends.base import BackendError, TryAgain
from ovnlb_core.nb import NAMED_TABLES, NON_ROOT_TABLES, SCHEMA, Column, NbSnapshot, Row, full_row
from ovnlb_core.plan import (
    Attachment,
    HealthCheckRow,
    LbRowSet,
    LoadBalancerRow,
    MapDelta,
    NatColumns,
    Plan,
)
from ovnlb_core.rawops import RawOp, RawOpError, RowDelete, RowInsert, initial_ops, resolve
from ovnlb_core.topology import INDEXED_EXTERNAL_IDS, ScannedReader, port_keys

__all__ = ["MemoryBackend", "MemoryReader"]

_Rows = dict[str, dict[str, Any]]
_RefKey = tuple[str, str]  # (referring table, column)

_UUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

#: Value constraints of the real NB schema 7.0.0 that nb.SCHEMA does not carry.
_ENUMS: Final[dict[_RefKey, frozenset[str]]] = {
    ("Load_Balancer", "protocol"): frozenset({"tcp", "udp", "sctp"}),
    ("Load_Balancer", "selection_fields"): frozenset(
        {"eth_src", "eth_dst", "ip_src", "ip_dst", "tp_src", "tp_dst"}
    ),
    ("NAT", "type"): frozenset({"dnat", "snat", "dnat_and_snat"}),
}
_RANGES: Final[dict[_RefKey, tuple[int, int]]] = {
    ("Gateway_Chassis", "priority"): (0, 32767),
    ("HA_Chassis", "priority"): (0, 32767),
}
#: Tables with a unique index on ``name`` in the real schema.
_UNIQUE_NAME: Final = frozenset(
    {"Logical_Switch_Port", "Logical_Router_Port", "Gateway_Chassis", "HA_Chassis_Group"}
)

_REF_COLUMNS: Final[dict[str, tuple[tuple[str, Column], ...]]] = {
    table: tuple((col, spec) for col, spec in cols.items() if spec.ref_table is not None)
    for table, cols in SCHEMA.items()
}


def _refs_to(weak: bool) -> dict[str, tuple[_RefKey, ...]]:
    out: dict[str, list[_RefKey]] = {}
    for table, cols in _REF_COLUMNS.items():
        for col, spec in cols:
            if spec.weak == weak and spec.ref_table is not None:
                out.setdefault(spec.ref_table, []).append((table, col))
    return {target: tuple(keys) for target, keys in out.items()}


_STRONG_TO: Final = _refs_to(weak=False)
_WEAK_TO: Final = _refs_to(weak=True)


def _targets(spec: Column, value: Any) -> tuple[str, ...]:
    if spec.kind == "set":
        return tuple(value)
    return () if value is None else (value,)


def _check_atom(table: str, col: str, spec: Column, value: Any) -> None:
    ok = {
        "string": isinstance(value, str),
        "uuid": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }[spec.atom]
    if not ok:
        raise BackendError(f"{table}.{col}: {value!r} is not of type {spec.atom}")
    enum = _ENUMS.get((table, col))
    if enum is not None and value not in enum:
        raise BackendError(f"{table}.{col}: {value!r} is not one of {sorted(enum)}")
    bounds = _RANGES.get((table, col))
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise BackendError(f"{table}.{col}: {value!r} is out of range {bounds}")


def _coerce(table: str, col: str, value: Any) -> Any:
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
            _check_atom(table, col, spec, item)
        return tuple(sorted(items))
    if spec.kind == "optional" and value is None:
        return None
    _check_atom(table, col, spec, value)
    return value


def _complete_row(table: str, columns: Mapping[str, Any]) -> dict[str, Any]:
    return full_row(table, {col: _coerce(table, col, v) for col, v in columns.items()})


def _mutate_map(row: dict[str, Any], col: str, delta: MapDelta, table: str) -> None:
    if not delta:
        return
    value = dict(row[col])
    for key in delta.delete:
        value.pop(key, None)
    value.update(delta.set)
    row[col] = _coerce(table, col, value)


def _contains(values: tuple[str, ...], item: str) -> bool:
    i = bisect.bisect_left(values, item)
    return i < len(values) and values[i] == item


def _edit_set(
    values: tuple[str, ...], adds: Iterable[str], removes: Iterable[str]
) -> tuple[tuple[str, ...], set[str], set[str]]:
    """``(values - removes) | adds`` of a sorted tuple, with the items really added and removed.

    A few edits of a large set (a switch holding thousands of load balancers)
    cost O(log n) lookups and one copy per edit instead of rebuilding the set.
    """
    adds = set(adds)
    added = {v for v in adds if not _contains(values, v)}
    removed = {v for v in removes if v not in adds and _contains(values, v)}
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


def _lb_columns(row: LoadBalancerRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "protocol": row.protocol,
        "vips": row.vips,
        "external_ids": row.external_ids,
        "selection_fields": row.selection_fields,
        "options": row.options,
        "ip_port_mappings": row.ip_port_mappings,
        "health_check": row.health_check,
    }


def _hc_columns(row: HealthCheckRow) -> dict[str, Any]:
    return {"vip": row.vip, "options": row.options, "external_ids": row.external_ids}


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

    def __init__(self, backend: MemoryBackend, tables: dict[str, _Rows], generation: int) -> None:
        self._backend = backend
        self._tables = tables
        self._generation = generation
        #: Per table still shared with the backend: the snapshot's version of each
        #: row changed since (None: the row did not exist).
        self._undo: dict[str, dict[str, dict[str, Any] | None]] = {}
        self._scan: ScannedReader | None = None

    def _current(self) -> bool:
        return self._generation == self._backend._generation

    def _table(self, table: str) -> _Rows:
        """The snapshot's dict of ``table`` (made private when commits changed it)."""
        undo = self._undo.pop(table, None)
        if undo is not None:
            rows = dict(self._tables[table])
            for uuid, old in undo.items():
                if old is None:
                    rows.pop(uuid, None)
                else:
                    rows[uuid] = old
            self._tables[table] = rows
        return self._tables.get(table, {})

    def rows(self, table: str) -> Mapping[str, Row]:
        """All rows of ``table``, keyed by UUID (read-only)."""
        rows = self._table(table)
        if rows is self._backend._tables.get(table):
            # A proxy of the backend's dict may outlive this view: copy on write.
            self._backend._handed_out.add(table)
        return MappingProxyType(rows)

    def load_balancers_with_external_id(self, keys: Sequence[str]) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows whose external_ids has one of ``keys``, in :meth:`rows` order.

        Looked up in the backend's index of ``pool_*`` keys while the view is
        current (and the answer one row), else a scan; either way the table is
        not handed out (see the class docstring).
        """
        rows = self._table("Load_Balancer")
        if self._current() and all(k.startswith("pool_") for k in keys):
            index = self._backend._lb_pool_keys
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
            uuids: Iterable[str] = self._backend._lb_mappings.get((key, value), ())
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
        self._backend._refresh_ports()
        rows = self._table("Logical_Switch_Port")
        return [(u, rows[u]) for u in sorted(self._backend._ports.get(key, ()))]

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
        uuids = self._backend._ext_ids[(table, key)].get(value, ())
        return [(u, rows[u]) for u in sorted(uuids)]

    def by_name(self, table: str, name: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose ``name`` column equals ``name``, sorted by UUID."""
        if table not in NAMED_TABLES:
            return []
        rows = self._table(table)
        if self._current():
            uuids: Iterable[str] = self._backend._names.get(table, {}).get(name, ())
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
            uuids: Iterable[str] = self._backend._refs[(table, column)].get(uuid, ())
        else:
            uuids = [u for u, row in rows.items() if uuid in _targets(spec, row[column])]
        return [(u, rows[u]) for u in sorted(uuids)]


class _Txn:
    """Changes staged over the committed state; nothing is visible before :meth:`publish`.

    Invariant of the reference deltas, per (table, column) and target:
    staged referrers = committed - ``ref_del`` + ``ref_add``, with ``ref_del``
    a subset of the committed ones and ``ref_add`` disjoint from them.
    """

    def __init__(self, db: MemoryBackend) -> None:
        self.db = db
        self.rows: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.ref_add: dict[_RefKey, dict[str, set[str]]] = {}
        self.ref_del: dict[_RefKey, dict[str, set[str]]] = {}
        self.deleted: list[tuple[str, str]] = []
        self.gc_candidates: set[tuple[str, str]] = set()

    def get_committed(self, table: str, uuid: str) -> bool:
        return uuid in self.db._tables[table]

    def get(self, table: str, uuid: str) -> dict[str, Any] | None:
        key = (table, uuid)
        if key in self.rows:
            return self.rows[key]
        return self.db._tables[table].get(uuid)

    def put(
        self,
        table: str,
        uuid: str,
        new: dict[str, Any] | None,
        delta: tuple[str, set[str], set[str]] | None = None,
    ) -> None:
        """Stage ``new`` (None: delete) as row ``uuid`` of ``table``.

        ``delta`` (column, added, removed) states exactly how one reference
        column changed, sparing the diff of a large set.
        """
        old = self.get(table, uuid)
        if old is None and new is None:
            return
        for col, spec in _REF_COLUMNS[table]:
            if delta is not None and delta[0] == col:
                gone, came = delta[2], delta[1]
            else:
                old_t = _targets(spec, old[col]) if old is not None else ()
                new_t = _targets(spec, new[col]) if new is not None else ()
                if old_t == new_t:
                    continue
                old_s, new_s = set(old_t), set(new_t)
                gone, came = old_s - new_s, new_s - old_s
            for target in gone:
                self._unref((table, col), target, uuid)
                if not spec.weak and spec.ref_table in NON_ROOT_TABLES:
                    self.gc_candidates.add((str(spec.ref_table), target))
            for target in came:
                self._ref((table, col), target, uuid)
        if new is None:
            self.deleted.append((table, uuid))
        elif old is None and table in NON_ROOT_TABLES:
            # An orphan inserted into a non-root table is collected at commit.
            self.gc_candidates.add((table, uuid))
        self.rows[(table, uuid)] = new

    def _ref(self, key: _RefKey, target: str, referrer: str) -> None:
        removed = self.ref_del.get(key, {}).get(target)
        if removed is not None and referrer in removed:
            removed.discard(referrer)
        else:
            self.ref_add.setdefault(key, {}).setdefault(target, set()).add(referrer)

    def _unref(self, key: _RefKey, target: str, referrer: str) -> None:
        added = self.ref_add.get(key, {}).get(target)
        if added is not None and referrer in added:
            added.discard(referrer)
        else:
            self.ref_del.setdefault(key, {}).setdefault(target, set()).add(referrer)

    def referrers(self, key: _RefKey, target: str) -> set[str]:
        out = set(self.db._refs[key].get(target, ()))
        out -= self.ref_del.get(key, {}).get(target, set())
        out |= self.ref_add.get(key, {}).get(target, set())
        return out

    def strongly_referenced(self, table: str, uuid: str) -> bool:
        return any(self.referrers(key, uuid) for key in _STRONG_TO.get(table, ()))

    def named(self, table: str, name: str, staged: Iterable[str] = ()) -> list[str]:
        """UUIDs of the staged rows of ``table`` named ``name``.

        Candidates are the committed holders of the name plus ``staged``: callers
        pass the UUIDs this transaction inserted or renamed when there can be any.
        """
        uuids = set(self.db._names[table].get(name, ()))
        uuids.update(staged)
        return sorted(u for u in uuids if (row := self.get(table, u)) and row["name"] == name)

    def finish(self) -> None:
        """Apply OVSDB's commit-time rules: weak references, garbage collection, integrity."""
        done = 0
        while True:
            if done < len(self.deleted):
                # Removing weak references deletes no row, so this batch is complete.
                batch, done = self.deleted[done:], len(self.deleted)
                self._drop_refs(self._weak_refs_to(batch))
                continue
            if not self.gc_candidates:
                break
            table, uuid = self.gc_candidates.pop()
            if self.get(table, uuid) is not None and not self.strongly_referenced(table, uuid):
                self.put(table, uuid, None)
        # A weak reference to a row that never existed (which OVSDB would drop)
        # cannot arise: raw operations resolve names, plans are checked.
        self._check_integrity()

    def _weak_refs_to(
        self, rows: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str, str], set[str]]:
        out: dict[tuple[str, str, str], set[str]] = {}
        for table, uuid in rows:
            for rtable, col in _WEAK_TO.get(table, ()):
                for referrer in self.referrers((rtable, col), uuid):
                    out.setdefault((rtable, col, referrer), set()).add(uuid)
        return out

    def _drop_refs(self, removals: Mapping[tuple[str, str, str], set[str]]) -> None:
        """Take ``targets`` out of column ``col`` of row ``referrer``, one put per row."""
        for (rtable, col, referrer), targets in sorted(removals.items()):
            row = self.get(rtable, referrer)
            if row is None:
                continue
            value = row[col]
            if SCHEMA[rtable][col].kind == "set":
                value, added, removed = _edit_set(value, (), targets)
                self.put(rtable, referrer, {**row, col: value}, (col, added, removed))
            elif value in targets:
                self.put(rtable, referrer, {**row, col: None})

    def _check_integrity(self) -> None:
        for (rtable, col), targets in self.ref_add.items():
            spec = SCHEMA[rtable][col]
            if spec.weak or spec.ref_table is None:
                continue
            for target, referrers in targets.items():
                if referrers and self.get(spec.ref_table, target) is None:
                    raise BackendError(
                        f"referential integrity violation: {rtable}.{col} of "
                        f"{sorted(referrers)[0]} refers to missing {spec.ref_table} row {target}"
                    )
        for table, uuid in self.deleted:
            if self.get(table, uuid) is None and self.strongly_referenced(table, uuid):
                raise BackendError(
                    f"referential integrity violation: cannot delete {table} row {uuid}, "
                    "it is still referenced"
                )
        staged: dict[tuple[str, str], list[str]] = {}
        for (table, uuid), row in self.rows.items():
            if row is not None and table in _UNIQUE_NAME:
                staged.setdefault((table, row["name"]), []).append(uuid)
        for (table, name), uuids in staged.items():
            if len(self.named(table, name, uuids)) > 1:
                raise BackendError(f"constraint violation: duplicate {table} name {name!r}")

    def publish(self) -> None:
        """Make the staged state the committed one."""
        db = self.db
        readers = [r for ref in db._readers if (r := ref()) is not None]
        db._readers = [weakref.ref(r) for r in readers]
        undos: dict[str, list[dict[str, dict[str, Any] | None]]] = {}
        # A view restoring a deleted row would put it last: to keep every view's
        # row order, a table losing a row is copied as before.
        deleting = {
            t for (t, u), new in self.rows.items() if new is None and self.get_committed(t, u)
        }
        for (table, uuid), new in self.rows.items():
            rows = db._tables[table]
            old = rows.get(uuid)
            if old is new:
                continue
            table_undos = undos.get(table)
            if table_undos is None:
                # The readers holding this very dict keep their snapshot: a copy on
                # write when one handed it out, else each records what changes.
                holders = [r for r in readers if r._tables.get(table) is rows]
                if table in deleting or table in db._handed_out:
                    rows = db._tables[table] = dict(rows)
                    db._handed_out.discard(table)
                    table_undos = []
                else:
                    table_undos = [r._undo.setdefault(table, {}) for r in holders]
                undos[table] = table_undos
            for undo in table_undos:
                if uuid not in undo:
                    undo[uuid] = old
            if new is None:
                del rows[uuid]
            else:
                rows[uuid] = new
            if table == "Load_Balancer":
                db._index_pool_keys(uuid, old, new)
                db._index_mappings(uuid, old, new)
            elif table == "Logical_Switch_Port":
                db._dirty_ports.add(uuid)
            if table in db._ext_tables:
                db._index_ext_ids(table, uuid, old, new)
            if table in db._names:
                names = db._names[table]
                if old is not None:
                    bucket = names[old["name"]]
                    bucket.discard(uuid)
                    if not bucket:
                        del names[old["name"]]
                if new is not None:
                    names.setdefault(new["name"], set()).add(uuid)
        # A port joining or leaving a switch changes the switch-port index.
        for deltas in (self.ref_add, self.ref_del):
            db._dirty_ports.update(deltas.get(("Logical_Switch", "ports"), {}))
        for key, targets in self.ref_del.items():
            index = db._refs[key]
            for target, referrers in targets.items():
                if referrers:
                    bucket = index[target]
                    bucket -= referrers
                    if not bucket:
                        del index[target]
        for key, targets in self.ref_add.items():
            index = db._refs[key]
            for target, referrers in targets.items():
                if referrers:
                    index.setdefault(target, set()).update(referrers)
        db._generation += 1
        db._view = None
        db._txns += 1


class MemoryBackend:
    """In-memory NB database implementing :class:`~ovnlb_backends.base.Backend`."""

    def __init__(self) -> None:
        self._tables: dict[str, _Rows] = {table: {} for table in SCHEMA}
        self._names: dict[str, dict[str, set[str]]] = {
            table: {} for table in SCHEMA if table in NAMED_TABLES
        }
        self._refs: dict[_RefKey, dict[str, set[str]]] = {
            (table, col): {} for table, cols in _REF_COLUMNS.items() for col, _ in cols
        }
        #: ``pool_*`` external_ids key -> the Load_Balancer rows holding it.
        self._lb_pool_keys: dict[str, set[str]] = {}
        #: ``(key, value)`` of ip_port_mappings -> the Load_Balancer rows holding it.
        self._lb_mappings: dict[tuple[str, str], set[str]] = {}
        #: (table, key) of INDEXED_EXTERNAL_IDS -> value -> rows.
        self._ext_ids: dict[tuple[str, str], dict[str, set[str]]] = {
            pair: {} for pair in INDEXED_EXTERNAL_IDS
        }
        self._ext_tables: dict[str, tuple[str, ...]] = {}
        for table, key in sorted(INDEXED_EXTERNAL_IDS):
            self._ext_tables[table] = (*self._ext_tables.get(table, ()), key)
        #: Switch-port index (``topology.port_keys``) -> ports; each port's keys in it.
        self._ports: dict[tuple[str, str, str], set[str]] = {}
        self._port_keys: dict[str, set[tuple[str, str, str]]] = {}
        #: Ports whose row or switches changed since the switch-port index was refreshed.
        self._dirty_ports: set[str] = set()
        #: Tables whose dict ``MemoryReader.rows`` handed out (copied on write).
        self._handed_out: set[str] = set()
        #: The readers taken (those alive may share the table dicts).
        self._readers: list[weakref.ref[MemoryReader]] = []
        self._generation = 0
        self._view: MemoryReader | None = None
        self._txns = 0

    def _index_pool_keys(
        self, uuid: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        old_keys = [k for k in old["external_ids"] if k.startswith("pool_")] if old else []
        new_keys = [k for k in new["external_ids"] if k.startswith("pool_")] if new else []
        if old_keys == new_keys:
            return
        index = self._lb_pool_keys
        for key in old_keys:
            bucket = index[key]
            bucket.discard(uuid)
            if not bucket:
                del index[key]
        for key in new_keys:
            index.setdefault(key, set()).add(uuid)

    @staticmethod
    def _bucket(index: dict[Any, set[str]], key: Any, uuid: str, add: bool) -> None:
        if add:
            index.setdefault(key, set()).add(uuid)
            return
        bucket = index.get(key)
        if bucket is not None:
            bucket.discard(uuid)
            if not bucket:
                del index[key]

    def _index_mappings(
        self, uuid: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        before = old["ip_port_mappings"] if old else {}
        after = new["ip_port_mappings"] if new else {}
        if before is after or before == after:
            return
        for k, v in before.items():
            if after.get(k) != v:
                self._bucket(self._lb_mappings, (k, v), uuid, add=False)
        for k, v in after.items():
            if before.get(k) != v:
                self._bucket(self._lb_mappings, (k, v), uuid, add=True)

    def _index_ext_ids(
        self, table: str, uuid: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        for key in self._ext_tables[table]:
            before = old["external_ids"].get(key) if old else None
            after = new["external_ids"].get(key) if new else None
            if before == after:
                continue
            index = self._ext_ids[(table, key)]
            if before is not None:
                self._bucket(index, before, uuid, add=False)
            if after is not None:
                self._bucket(index, after, uuid, add=True)

    def _refresh_ports(self) -> None:
        """Bring the switch-port index up to date for the ports changed since last time.

        Done when a reader asks, so a commit pays nothing for it and a load
        of many ports costs one pass.
        """
        if not self._dirty_ports:
            return
        lsps = self._tables["Logical_Switch_Port"]
        holders = self._refs[("Logical_Switch", "ports")]
        for lsp in self._dirty_ports:
            row = lsps.get(lsp)
            keys: set[tuple[str, str, str]] = set()
            if row is not None:
                for ls in holders.get(lsp, ()):
                    keys |= port_keys(ls, row)
            old = self._port_keys.get(lsp, set())
            for key in old - keys:
                self._bucket(self._ports, key, lsp, add=False)
            for key in keys - old:
                self._bucket(self._ports, key, lsp, add=True)
            if keys:
                self._port_keys[lsp] = keys
            else:
                self._port_keys.pop(lsp, None)
        self._dirty_ports.clear()

    @classmethod
    def from_nb_initial(
        cls, nb_initial: Mapping[str, Sequence[Mapping[str, Any]]]
    ) -> MemoryBackend:
        """A backend holding a conformance file's ``nb_initial`` (loaded in one transaction)."""
        backend = cls()
        backend.apply_raw(initial_ops(nb_initial))
        return backend

    def reader(self) -> MemoryReader:
        """A consistent read view of the current rows (a snapshot; cheap, see MemoryReader)."""
        if self._view is None:
            self._view = MemoryReader(self, dict(self._tables), self._generation)
            self._readers.append(weakref.ref(self._view))
        return self._view

    def snapshot(self) -> NbSnapshot:
        """An :class:`~ovnlb_core.nb.NbSnapshot` of the current rows (rows shared, not copied)."""
        return NbSnapshot({table: dict(rows) for table, rows in self._tables.items()})

    def transaction_count(self) -> int:
        """How many write transactions were committed (loading ``nb_initial`` counts as one)."""
        return self._txns

    def close(self) -> None:
        """Nothing to release."""

    def apply_raw(self, ops: Sequence[RawOp]) -> None:
        """Apply Neutron-style raw row operations (conformance ``nb_changes``), one transaction."""
        if not ops:
            return
        try:
            resolved = resolve(self.reader(), ops)
        except RawOpError as exc:
            raise BackendError(str(exc)) from exc
        txn = _Txn(self)
        for op in resolved:
            current = txn.get(op.table, op.uuid)
            if isinstance(op, RowInsert):
                if current is not None:
                    raise BackendError(f"duplicate uuid: {op.table} row {op.uuid} exists")
                txn.put(op.table, op.uuid, _complete_row(op.table, op.columns))
            elif current is None:
                raise BackendError(f"no {op.table} row {op.uuid}")
            elif isinstance(op, RowDelete):
                txn.put(op.table, op.uuid, None)
            else:
                changes = {col: _coerce(op.table, col, v) for col, v in op.columns.items()}
                txn.put(op.table, op.uuid, {**current, **changes})
        txn.finish()
        txn.publish()

    def commit(self, plan: Plan, basis: LbRowSet | None = None) -> None:
        """Apply ``plan`` in one transaction (see the module docstring for the semantics).

        ``basis`` is verified like the IDL's ``verify``: when a row, attachment
        or NAT column it holds differs from the committed state, :class:`TryAgain`.
        """
        if plan.is_empty():
            return
        if basis is not None:
            self._verify(basis)
        txn = _Txn(self)
        self._stage_lbs(txn, plan)
        self._stage_hcs(txn, plan)
        self._stage_attachments(txn, plan.attach, plan.detach)
        for nu in plan.nat_updates:
            row = txn.get("NAT", nu.uuid)
            if row is None:
                raise BackendError(f"no NAT row {nu.uuid}")
            new = dict(row)
            if nu.clear_logical_port:
                new["logical_port"] = None
            if nu.clear_external_mac:
                new["external_mac"] = None
            txn.put("NAT", nu.uuid, new)
        txn.finish()
        txn.publish()

    # -- staging --------------------------------------------------------------

    @staticmethod
    def _stage_insert(txn: _Txn, table: str, uuid: str, columns: Mapping[str, Any]) -> None:
        if not _UUID_RE.fullmatch(uuid):
            raise BackendError(f"{table} row UUID {uuid!r} is not a lowercase UUID")
        if txn.get(table, uuid) is not None:
            raise BackendError(f"duplicate uuid: {table} row {uuid} exists")
        txn.put(table, uuid, _complete_row(table, columns))

    @staticmethod
    def _existing(txn: _Txn, table: str, uuid: str, deleting: set[str]) -> dict[str, Any]:
        if uuid in deleting:
            raise BackendError(f"{table} row {uuid} is both updated and deleted")
        row = txn.get(table, uuid)
        if row is None:
            raise BackendError(f"no {table} row {uuid}")
        return dict(row)

    @staticmethod
    def _stage_deletes(txn: _Txn, table: str, uuids: Sequence[str]) -> None:
        for uuid in uuids:
            if txn.get(table, uuid) is None:
                raise BackendError(f"cannot delete {table} row {uuid}: no such row")
            txn.put(table, uuid, None)

    def _stage_lbs(self, txn: _Txn, plan: Plan) -> None:
        table = "Load_Balancer"
        for r in plan.lb_inserts:
            self._stage_insert(txn, table, r.uuid, _lb_columns(r))
        deleting = set(plan.lb_deletes)
        for upd in plan.lb_updates:
            row = self._existing(txn, table, upd.uuid, deleting)
            if upd.set_protocol:
                row["protocol"] = _coerce(table, "protocol", upd.protocol)
            for col in ("vips", "external_ids", "options", "ip_port_mappings"):
                _mutate_map(row, col, getattr(upd, col), table)
            if upd.selection_fields is not None:
                row["selection_fields"] = _coerce(table, "selection_fields", upd.selection_fields)
            if upd.health_check_add or upd.health_check_remove:
                hcs = set(row["health_check"]) - set(upd.health_check_remove)
                hcs |= set(upd.health_check_add)
                row["health_check"] = _coerce(table, "health_check", hcs)
            txn.put(table, upd.uuid, row)
        self._stage_deletes(txn, table, plan.lb_deletes)

    def _stage_hcs(self, txn: _Txn, plan: Plan) -> None:
        table = "Load_Balancer_Health_Check"
        for h in plan.hc_inserts:
            self._stage_insert(txn, table, h.uuid, _hc_columns(h))
        deleting = set(plan.hc_deletes)
        for hu in plan.hc_updates:
            row = self._existing(txn, table, hu.uuid, deleting)
            if hu.vip is not None:
                row["vip"] = _coerce(table, "vip", hu.vip)
            _mutate_map(row, "options", hu.options, table)
            _mutate_map(row, "external_ids", hu.external_ids, table)
            txn.put(table, hu.uuid, row)
        self._stage_deletes(txn, table, plan.hc_deletes)

    @staticmethod
    def _stage_attachments(
        txn: _Txn, attach: Sequence[Attachment], detach: Sequence[Attachment]
    ) -> None:
        # Grouped per holder so that N attachments to one switch rebuild its
        # load_balancer set once, not N times.
        changes: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        for atts, add in ((detach, False), (attach, True)):
            for att in atts:
                holders = txn.named(att.table, att.name)
                if len(holders) != 1:
                    what = "no" if not holders else "more than one"
                    raise BackendError(f"{what} {att.table} row named {att.name!r}")
                if add and txn.get("Load_Balancer", att.lb_uuid) is None:
                    # ovsdb-server would drop the weak reference silently; a plan
                    # doing this is a bug worth failing on.
                    raise BackendError(f"cannot attach missing Load_Balancer row {att.lb_uuid}")
                adds, removes = changes.setdefault((att.table, holders[0]), (set(), set()))
                # Detach then attach, as the plan lists them.
                if add:
                    adds.add(att.lb_uuid)
                    removes.discard(att.lb_uuid)
                else:
                    removes.add(att.lb_uuid)
        for (table, uuid), (adds, removes) in changes.items():
            row = txn.get(table, uuid)
            assert row is not None
            value, added, removed = _edit_set(row["load_balancer"], adds, removes)
            if added or removed:
                delta = ("load_balancer", added, removed)
                txn.put(table, uuid, {**row, "load_balancer": value}, delta)

    # -- basis verification ---------------------------------------------------

    def _verify(self, basis: LbRowSet) -> None:
        """Raise :class:`TryAgain` when the committed rows differ from ``basis``."""
        lbs, hcs, nats = (
            self._tables[t] for t in ("Load_Balancer", "Load_Balancer_Health_Check", "NAT")
        )
        for uuid, lb in basis.lbs.items():
            row = lbs.get(uuid)
            if row is None or LoadBalancerRow(uuid, **row) != lb:
                raise TryAgain(f"Load_Balancer row {uuid} changed since it was read")
        for uuid, hc in basis.health_checks.items():
            row = hcs.get(uuid)
            if row is None or HealthCheckRow(uuid, **row) != hc:
                raise TryAgain(f"Load_Balancer_Health_Check row {uuid} changed since it was read")
        for table, holders in (
            ("Logical_Switch", basis.switches),
            ("Logical_Router", basis.routers),
        ):
            for uuid in set(basis.lbs) | set(holders):
                names = {
                    self._tables[table][r]["name"]
                    for r in self._refs[(table, "load_balancer")].get(uuid, ())
                }
                if names != set(holders.get(uuid, frozenset())):
                    raise TryAgain(f"{table} attachments of {uuid} changed since they were read")
        for uuid, nat in basis.nats.items():
            row = nats.get(uuid)
            if row is None or NatColumns(uuid, row["logical_port"], row["external_mac"]) != nat:
                raise TryAgain(f"NAT row {uuid} changed since it was read")
