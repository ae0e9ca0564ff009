"""The ovs Python IDL backend: an in-memory replica of the NB tables ovnlb needs.

:class:`IdlBackend` connects to one NB server or to a comma-separated list of
cluster members (leader only by default) over ``unix:``, ``tcp:`` or
``ssl:``, monitors only the tables and columns of
:data:`ovnlb_core.nb.SCHEMA`, and applies a :class:`~ovnlb_core.plan.Plan` as
one OVSDB transaction: per-key ``mutate`` for map columns (``setkey`` /
``delkey``), ``addvalue`` / ``delvalue`` for reference sets, inserts with the
plan's client-chosen UUIDs (``persist_uuid``), and ``verify`` of what the
plan was computed from: for a ``Load_Balancer`` row its server-side
``_version`` (36 bytes, where the old values of ``vips`` and
``external_ids`` can be megabytes), for other rows every column the plan
changes. A TRY_AGAIN (failed verify,
reconnect with the transaction in flight) becomes :class:`~ovnlb_backends.base.TryAgain`
once the replica has resynced, so the caller can re-read, re-plan and
re-apply; a retry of a plan that did commit then plans to nothing.

Reading is lazy: :meth:`IdlBackend.reader` converts a row to the canonical
form of :mod:`ovnlb_core.nb` only when it is looked at (and caches it until the
row changes), and finds rows by ``name`` or by who references them through
indexes kept up to date from the IDL's change notifications, so the cost of
a request does not grow with the number of unrelated load balancers.

Opening a connection installs the fast ``ovs`` JSON-RPC parser of
:mod:`ovnlb_backends.jsonparser` (PyPI's ``ovs`` usually builds without its C
extension, and the pure-Python parser is quadratic in the length of a string).
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import ovs.db.data
import ovs.db.error
import ovs.db.idl
import ovs.db.schema
import ovs.db.types
import ovs.json
import ovs.jsonrpc
import ovs.ovsuuid
import ovs.poller
import ovs.stream

from ovnlb_backends.base import BackendError, TryAgain
from ovnlb_backends.jsonparser import (
    StdlibJsonParser,
    ensure_json_parser,
    install_json_parser,
    json_parser_info,
)
from ovnlb_core import rawops
from ovnlb_core.nb import SCHEMA, Column, NbReader, Row
from ovnlb_core.plan import (
    HealthCheckRow,
    LbRowSet,
    LoadBalancerRow,
    MapDelta,
    NatColumns,
    Plan,
)
from ovnlb_core.topology import INDEXED_EXTERNAL_IDS, port_keys

__all__ = [
    "IdlBackend",
    "IdlReader",
    "StdlibJsonParser",
    "install_json_parser",
    "json_parser_info",
]

log = logging.getLogger(__name__)

NB_DB: Final = "OVN_Northbound"

# ---------------------------------------------------------------------------
# Canonical values <-> ovs Datum
# ---------------------------------------------------------------------------


def _canonical(datum: Any, spec: Column) -> Any:
    """A Datum in the canonical form of :mod:`ovnlb_core.nb`."""
    values = datum.values
    if spec.kind == "map":
        return {k.value: v.value for k, v in values.items()}
    if spec.atom == "uuid":
        items: list[Any] = sorted(str(k.value) for k in values)
    elif spec.kind == "set":
        items = sorted(k.value for k in values)
    else:
        items = [k.value for k in values]
    if spec.kind == "set":
        return tuple(items)
    if spec.kind == "optional":
        return items[0] if items else None
    return items[0] if items else spec.default()


_ATOM_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "uuid": (str, uuidlib.UUID),
}


def _atom_to_python(spec: Column, value: Any, where: str) -> Any:
    if not isinstance(value, _ATOM_TYPES[spec.atom]) or (
        spec.atom == "integer" and isinstance(value, bool)
    ):
        raise BackendError(f"{where}: {value!r} is not a {spec.atom}")
    if spec.atom == "uuid":
        try:
            return uuidlib.UUID(str(value))
        except ValueError:
            raise BackendError(f"{where}: {value!r} is not a UUID") from None
    return value


def _to_python(spec: Column, value: Any, where: str) -> Any:
    """A canonical value as the ovs IDL wants it, type-checked.

    The IDL logs and silently drops a value of the wrong type, then commits
    the rest; checking here turns that into an error.
    """
    if spec.kind == "map":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise BackendError(f"{where}: expected a map of strings, got {value!r}")
        return dict(value)
    if spec.kind == "set":
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset):
            raise BackendError(f"{where}: expected a set, got {value!r}")
        return [_atom_to_python(spec, v, where) for v in value]
    if spec.kind == "optional":
        return [] if value is None else [_atom_to_python(spec, value, where)]
    return _atom_to_python(spec, value, where)


def _scalar_of(datum: Any) -> Any:
    for atom in datum.values:
        return atom.value
    return None


# ---------------------------------------------------------------------------
# The replica with indexes
# ---------------------------------------------------------------------------

#: (table, column) pairs of SCHEMA that hold references: indexed for :meth:`IdlReader.referrers`.
_REF_COLUMNS: Final[tuple[tuple[str, str], ...]] = tuple(
    (t, c) for t, cols in SCHEMA.items() for c, spec in cols.items() if spec.ref_table
)
_NAMED: Final[tuple[str, ...]] = tuple(t for t, cols in SCHEMA.items() if "name" in cols)


#: The server's per-row version UUID (RFC 7047); see :meth:`_IndexedIdl._monitor_version`.
VERSION: Final = "_version"


class _IndexedIdl(ovs.db.idl.Idl):  # type: ignore[misc]
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
            name = _scalar_of(data["name"]) or ""
            bucket = self.names[table]
            if add:
                bucket.setdefault(name, set()).add(u)
            else:
                holders = bucket.get(name)
                if holders is not None:
                    holders.discard(u)
                    if not holders:
                        del bucket[name]
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
                    self._bucket(self.ext_ids[(table, ext_key)], atom.value, u, add)
        for column in SCHEMA[table]:
            key = (table, column)
            if key not in self.refs or column not in data:
                continue
            index = self.refs[key]
            for atom in data[column].values:
                target = atom.value
                if add:
                    index.setdefault(target, set()).add(u)
                else:
                    holders = index.get(target)
                    if holders is not None:
                        holders.discard(u)
                        if not holders:
                            del index[target]

    @staticmethod
    def _bucket(index: dict[Any, set[uuidlib.UUID]], key: Any, u: uuidlib.UUID, add: bool) -> None:
        if add:
            index.setdefault(key, set()).add(u)
            return
        holders = index.get(key)
        if holders is not None:
            holders.discard(u)
            if not holders:
                del index[key]

    def _index_lb(self, u: uuidlib.UUID, data: Mapping[str, Any], add: bool) -> None:
        if "external_ids" in data:
            for k in data["external_ids"].values:
                if k.value.startswith("pool_"):
                    self._bucket(self.lb_pool_keys, k.value, u, add)
        if "ip_port_mappings" in data:
            for k, v in data["ip_port_mappings"].values.items():
                self._bucket(self.lb_mappings, (k.value, v.value), u, add)

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
                    "type": _scalar_of(data["type"]) or "",
                    "addresses": [a.value for a in data["addresses"].values],
                }
                for ls in holders.get(u, ()):
                    keys |= port_keys(str(ls), small)
            old = self.port_keys.get(u, set())
            for key in old - keys:
                self._bucket(self.ports, key, u, add=False)
            for key in keys - old:
                self._bucket(self.ports, key, u, add=True)
            if keys:
                self.port_keys[u] = keys
            else:
                self.port_keys.pop(u, None)
        self.dirty_ports.clear()

    def ensure_fresh(self) -> None:
        """Rebuild indexes and drop cached rows after a (re)connection."""
        if not self.stale:
            return
        for bucket in self.names.values():
            bucket.clear()
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
        heavy = _HEAVY.get(table)
        out: Row
        if heavy:
            out = _LazyIdlRow(table, data, heavy)
        else:
            out = {col: _canonical(data[col], spec) for col, spec in SCHEMA[table].items()}
        cache[u] = out
        return out


#: Reference sets that can hold thousands of UUIDs (a network's ports, a busy
#: switch's load balancers): converted only when looked at (:class:`_LazyIdlRow`).
_HEAVY: Final[dict[str, frozenset[str]]] = {
    "Logical_Switch": frozenset({"ports", "load_balancer"}),
    "Logical_Router": frozenset({"nat", "load_balancer"}),
}


class _LazyIdlRow(Mapping[str, Any]):
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
                self._values[col] = _canonical(data[col], spec)

    def __getitem__(self, column: str) -> Any:
        try:
            return self._values[column]
        except KeyError:
            datum = self._datums.pop(column)  # KeyError for an unknown column
            value = self._values[column] = _canonical(datum, self._specs[column])
            return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


def _parse_uuid(value: str) -> uuidlib.UUID | None:
    try:
        return uuidlib.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


class _LazyTable(Mapping[str, Row]):
    """``uuid -> canonical row`` over one IDL table; converts a row when read."""

    def __init__(self, idl: _IndexedIdl, table: str) -> None:
        self._idl = idl
        self._table = table
        self._rows = idl.tables[table].rows

    def __getitem__(self, key: str) -> Row:
        u = _parse_uuid(key)
        row = None if u is None else self._idl.canonical_row(self._table, u)
        if row is None:
            raise KeyError(key)
        return row

    def __iter__(self) -> Iterator[str]:
        return (str(u) for u in list(self._rows.keys()))

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        u = _parse_uuid(key) if isinstance(key, str) else None
        return u is not None and u in self._rows


class IdlReader(NbReader):
    """Canonical read view over the IDL replica (lazy, indexed).

    Rows are shared with the backend's cache: treat them as read-only. The
    view follows the replica, which changes only inside the backend's methods
    (``reader``, ``commit``, ``apply_raw``, ``wait_for``).
    """

    def __init__(self, idl: _IndexedIdl) -> None:
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
            if key.startswith("pool_"):
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
        u = _parse_uuid(uuid)
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
        target = _parse_uuid(uuid)
        if index is None:
            raise KeyError(f"{table}.{column} is not an indexed reference column")
        if target is None:
            return []
        self._idl.ensure_fresh()
        return self._rows_for(table, index.get(target))


# ---------------------------------------------------------------------------
# The backend
# ---------------------------------------------------------------------------


def _split_remotes(remote: str) -> list[str]:
    # Same rule as ovs.db.idl.Idl._parse_remotes: "unix:/a,b" keeps ",b" when
    # the piece has no ":" (a path with a comma).
    out: list[str] = []
    for piece in remote.split(","):
        piece = piece.strip()
        if out and ":" not in piece:
            out[-1] += "," + piece
        elif piece:
            out.append(piece)
    return out


def _fetch_schema(remotes: Sequence[str], deadline: float, db: str = NB_DB) -> Any:
    """The schema JSON of ``db`` from the first remote that answers ``get_schema``."""
    # Every OVSDB connection ovnlb opens (IdlBackend, the SB watcher) starts
    # here, before any JSON is read: the place to install the fast parser.
    ensure_json_parser()
    errors: list[str] = []

    def strerror(error: int) -> str:
        return "connection closed" if error == ovs.jsonrpc.EOF else os.strerror(error)

    for i, remote in enumerate(remotes):
        # Share the time left between the members not tried yet: one that
        # does not answer must not use up the budget of the others.
        remote_deadline = time.monotonic() + (deadline - time.monotonic()) / (len(remotes) - i)
        remaining_ms = max(1, int((remote_deadline - time.monotonic()) * 1000))
        error, stream = ovs.stream.Stream.open_block(
            ovs.stream.Stream.open(remote), timeout=remaining_ms
        )
        if error:
            errors.append(f"{remote}: {strerror(error)}")
            continue
        conn = ovs.jsonrpc.Connection(stream)
        try:
            request = ovs.jsonrpc.Message.create_request("get_schema", [db])
            error = conn.send(request)
            while not error:
                error, reply = conn.recv()
                if error == errno.EAGAIN:
                    error = 0
                    if time.monotonic() >= remote_deadline:
                        error = errno.ETIMEDOUT
                        break
                    conn.run()
                    poller = ovs.poller.Poller()
                    conn.wait(poller)
                    conn.recv_wait(poller)
                    poller.timer_wait(max(1, int((remote_deadline - time.monotonic()) * 1000)))
                    poller.block()
                    continue
                if reply is not None and reply.id == request.id:
                    if reply.type == ovs.jsonrpc.Message.T_REPLY:
                        return reply.result
                    errors.append(f"{remote}: get_schema: {reply.error}")
                    break
            if error:
                errors.append(f"{remote}: {strerror(error)}")
        finally:
            conn.close()
    raise BackendError(f"cannot read the {db} schema: " + "; ".join(errors))


class _Transaction(ovs.db.idl.Transaction):  # type: ignore[misc]
    """An ovs Transaction whose references to persist_uuid rows stay real UUIDs.

    ovs < 3.2 (PyPI 3.1.x, Debian 12's python3-openvswitch) turns every
    reference to a row inserted in the same transaction into a ``named-uuid``,
    also when the row is inserted with ``"uuid"`` (persist_uuid) and so has no
    name: the server then reports a reference to a nonexistent row. This is
    the newer ovs code.
    """

    def _substitute_uuids(self, json: Any) -> Any:
        if isinstance(json, list | tuple):
            if len(json) == 2 and json[0] == "uuid" and ovs.ovsuuid.is_valid_string(json[1]):
                uuid = ovs.ovsuuid.from_string(json[1])
                row = self._txn_rows.get(uuid, None)
                if row and row._data is None and not row._persist_uuid:
                    return ["named-uuid", ovs.db.idl._uuid_name_from_uuid(uuid)]
            else:
                return [self._substitute_uuids(elem) for elem in json]
        return json


class IdlBackend:
    """:class:`~ovnlb_backends.base.Backend` on the ``ovs`` Python IDL.

    ``remote`` is an OVSDB remote (``unix:PATH``, ``tcp:IP:PORT``,
    ``ssl:IP:PORT``) or a comma-separated list of cluster members. The
    constructor returns once the initial contents are replicated (or raises
    :class:`~ovnlb_backends.base.BackendError` after ``timeout`` seconds).
    ``ssl_key`` / ``ssl_cert`` / ``ssl_ca`` are PEM files for ``ssl:``
    remotes (process-wide settings of the ovs library). ``max_backoff`` caps
    the wait between reconnection attempts (seconds; the ovs default is 8).
    Not thread-safe: use one backend per thread.
    """

    def __init__(
        self,
        remote: str,
        *,
        timeout: float = 30.0,
        ssl_key: str | None = None,
        ssl_cert: str | None = None,
        ssl_ca: str | None = None,
        leader_only: bool = True,
        max_backoff: float = 1.0,
    ) -> None:
        self.remote = remote
        self.timeout = timeout
        self._txn_count = 0
        if ssl_key:
            ovs.stream.Stream.ssl_set_private_key_file(ssl_key)
        if ssl_cert:
            ovs.stream.Stream.ssl_set_certificate_file(ssl_cert)
        if ssl_ca:
            ovs.stream.Stream.ssl_set_ca_cert_file(ssl_ca)
        remotes = _split_remotes(remote)
        if not remotes:
            raise BackendError("empty OVSDB remote")
        deadline = time.monotonic() + timeout
        helper = ovs.db.idl.SchemaHelper(schema_json=_fetch_schema(remotes, deadline))
        server_tables = helper.schema_json.get("tables", {})
        for table, columns in SCHEMA.items():
            missing = sorted(set(columns) - set(server_tables.get(table, {}).get("columns", {})))
            if table not in server_tables or missing:
                raise BackendError(f"NB schema lacks {table} {', '.join(missing)}".rstrip())
            helper.register_columns(table, list(columns))
        self._idl = _IndexedIdl(",".join(remotes), helper, leader_only=leader_only)
        self._check_column_kinds()
        # Reconnect backoff: the ovs default grows to 8 s, which after a leader
        # crash keeps writes stalled for up to ~7 s though a new leader is
        # elected in ~1.5 s. The IDL has no public knob; its session's does.
        fsm = getattr(getattr(self._idl, "_session", None), "reconnect", None)
        if fsm is not None and hasattr(fsm, "set_backoff"):
            fsm.set_backoff(1000, int(max_backoff * 1000))
        if not self._run_until(self._synced, deadline):
            self._idl.close()
            raise BackendError(f"no NB replica from {remote} within {timeout} s")
        self._idl.ensure_fresh()
        # The replica and its indexes are millions of new long-lived objects: the
        # interpreter's next full collection is due, and would land in the first
        # request (0.4 s with 10k ports). Taken here, with the connection.
        gc.collect()

    def _check_column_kinds(self) -> None:
        """The server's column types must be what nb.SCHEMA says (canonical form relies on it)."""
        for table, columns in SCHEMA.items():
            for col, spec in columns.items():
                ctype = self._idl.tables[table].columns[col].type
                if ctype.is_map():
                    kind = "map"
                elif ctype.n_max == 1:
                    kind = "scalar" if ctype.n_min == 1 else "optional"
                else:
                    kind = "set"
                if kind != spec.kind:
                    self._idl.close()
                    raise BackendError(
                        f"{table}.{col} is a {kind} on the server, not a {spec.kind}"
                    )

    # -- event loop ----------------------------------------------------------

    def _synced(self) -> bool:
        """Monitoring a live session (the IDL's state alone lags a dead connection)."""
        session = getattr(self._idl, "_session", None)
        live = session is None or bool(session.is_connected())
        return live and bool(self._idl.state == self._idl.IDL_S_MONITORING)

    def _run_until(
        self, done: Callable[[], bool], deadline: float, tick: float | None = None
    ) -> bool:
        """Run the IDL until ``done()`` or the deadline, sleeping in poll (no busy wait).

        ``tick`` (seconds) re-checks ``done()`` at least that often, for
        conditions that depend on time rather than on IDL activity.
        """
        while True:
            self._idl.run()
            if done():
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            wake = deadline if tick is None else min(deadline, now + tick)
            poller = ovs.poller.Poller()
            self._idl.wait(poller)
            poller.timer_wait(max(1, int((wake - now) * 1000)))
            poller.block()

    def wait_for(self, done: Callable[[], bool], timeout: float | None = None) -> bool:
        """Process updates until ``done()`` is true (False after ``timeout`` seconds)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        return self._run_until(done, deadline)

    def connected(self) -> bool:
        """True while the replica is live (monitoring the server)."""
        return self._synced()

    # -- for watchers ----------------------------------------------------------

    def add_listener(self, listener: Callable[[str, Any, Any], None]) -> None:
        """Call ``listener(event, row, updates)`` for every row change the replica takes in.

        ``event`` is ``ovs.db.idl.ROW_CREATE``/``ROW_UPDATE``/``ROW_DELETE``;
        ``updates`` holds the old values of the changed columns (updates only).
        """
        self._idl.listeners.append(listener)

    def set_lock(self, name: str | None) -> None:
        """Ask the server for the OVSDB lock ``name`` (None releases it).

        While another client holds it, :attr:`has_lock` is False and every
        transaction of this backend fails: the IDL asserts the lock in each.
        """
        self._idl.set_lock(name)

    @property
    def connection_generation(self) -> int:
        """A number that changes whenever the connection was (re)established."""
        return int(self._idl.generation)

    @property
    def has_lock(self) -> bool:
        """True while this connection holds the lock asked for with :meth:`set_lock`."""
        return bool(self._idl.has_lock)

    def run(self) -> None:
        """Take in what the server sent (non-blocking)."""
        self._idl.run()

    def wait(self, poller: Any) -> None:
        """Register the connection with an ``ovs.poller.Poller`` (to block until activity)."""
        self._idl.wait(poller)

    # -- Backend protocol ----------------------------------------------------

    def reader(self) -> IdlReader:
        """A read view of the replica, after taking in pending updates (non-blocking)."""
        self._idl.run()
        self._idl.ensure_fresh()
        return IdlReader(self._idl)

    def transaction_count(self) -> int:
        """Write transactions sent to the server by this backend."""
        return self._txn_count

    def close(self) -> None:
        """Close the connection; the backend is unusable afterwards."""
        self._idl.close()

    def commit(self, plan: Plan, basis: LbRowSet | None = None) -> None:
        """Apply ``plan`` in one transaction (see the module docstring).

        Raises :class:`TryAgain` when the basis is stale or changed on the
        server (verify), or when the outcome is unknown (reconnect); the
        replica has resynced by then. Raises :class:`BackendError` for
        anything else (including a timeout).
        """
        if plan.is_empty():
            return
        self._idl.ensure_fresh()
        if basis is not None:
            self._check_basis(basis)
        txn = _Transaction(self._idl)
        try:
            self._build_plan(txn, plan)
        except BaseException:
            txn.abort()
            raise
        self._execute(txn)

    def apply_raw(self, ops: Sequence[rawops.RawOp]) -> None:
        """Apply Neutron-style raw operations in one transaction (whole-column writes)."""
        resolved = rawops.resolve(self.reader(), ops)
        if not resolved:
            return
        txn = _Transaction(self._idl)
        try:
            for op in resolved:
                if isinstance(op, rawops.RowInsert):
                    self._insert(txn, op.table, op.uuid, op.columns)
                elif isinstance(op, rawops.RowUpdate):
                    row = self._existing(op.table, op.uuid, stale_is_retry=False)
                    for col, value in op.columns.items():
                        self._assign(row, op.table, col, value)
                else:
                    row = self._existing(op.table, op.uuid, stale_is_retry=False)
                    self._delete(txn, row, op.table, op.uuid)
        except BaseException:
            txn.abort()
            raise
        self._execute(txn)

    # -- transaction building --------------------------------------------------

    def _table(self, name: str) -> Any:
        return self._idl.tables[name]

    def _existing(self, table: str, uuid: str, *, stale_is_retry: bool = True) -> Any:
        row = self._table(table).rows.get(uuidlib.UUID(uuid))
        if row is None:
            msg = f"{table} row {uuid} is gone"
            raise TryAgain(msg) if stale_is_retry else BackendError(msg)
        return row

    def _assign(self, row: Any, table: str, col: str, value: Any) -> None:
        spec = SCHEMA[table][col]
        where = f"{table}.{col}"
        py = _to_python(spec, value, where)
        column = self._table(table).columns[col]
        try:  # The IDL would only log a constraint violation and drop the write.
            ovs.db.data.Datum.from_python(column.type, py, ovs.db.idl._row_to_uuid)
        except ovs.db.error.Error as e:
            raise BackendError(f"{where}: {e}") from None
        setattr(row, col, py)

    def _insert(self, txn: Any, table: str, uuid: str, columns: Mapping[str, Any]) -> None:
        u = uuidlib.UUID(uuid)
        if u in self._table(table).rows:
            raise TryAgain(f"{table} row {uuid} exists already (stale read)")
        # The plan's UUID goes to the server ("uuid" in the insert op): a
        # retried insert of a committed row then fails instead of duplicating it.
        row = txn.insert(self._table(table), new_uuid=u, persist_uuid=True)
        for col, value in columns.items():
            self._assign(row, table, col, value)

    def _delete(self, txn: Any, row: Any, table: str, uuid: str) -> None:
        row.delete()
        if not self._table(table).is_root and hasattr(txn, "add_op"):
            # The IDL sends nothing for a non-root row and leaves it to garbage
            # collection; say it explicitly so a still-referenced row is an error.
            # (ovs < 3.2 has no add_op: there garbage collection alone deletes it.)
            txn.add_op({"op": "delete", "table": table, "where": [["_uuid", "==", ["uuid", uuid]]]})

    def _mutate_map(
        self, row: Any, table: str, col: str, delta: MapDelta, *, verify: bool = True
    ) -> None:
        if not delta:
            return
        if verify:
            row.verify(col)
        where = f"{table}.{col}"
        for key in delta.delete:
            if not isinstance(key, str):
                raise BackendError(f"{where}: key {key!r} is not a string")
            row.delkey(col, key)
        for key, value in delta.set.items():
            if not (isinstance(key, str) and isinstance(value, str)):
                raise BackendError(f"{where}: {key!r}={value!r} is not a string pair")
            row.setkey(col, key, value)

    def _build_plan(self, txn: Any, plan: Plan) -> None:
        lb, hc = "Load_Balancer", "Load_Balancer_Health_Check"
        for h in plan.hc_inserts:
            cols: dict[str, Any] = {
                "vip": h.vip,
                "options": h.options,
                "external_ids": h.external_ids,
            }
            self._insert(txn, hc, h.uuid, cols)
        for r in plan.lb_inserts:
            cols = {
                "name": r.name,
                "protocol": r.protocol,
                "vips": r.vips,
                "external_ids": r.external_ids,
                "selection_fields": r.selection_fields,
                "options": r.options,
                "ip_port_mappings": r.ip_port_mappings,
                "health_check": r.health_check,
            }
            self._insert(txn, lb, r.uuid, cols)
        for u in plan.lb_updates:
            row = self._existing(lb, u.uuid)
            # One 36-byte check of the row's version replaces the per-column
            # verifies (which would send every changed column's old value).
            by_column = not (
                self._idl.versioned
                and row.uuid in self._idl.version_trusted
                and row._data.get(VERSION) is not None
            )
            if not by_column:
                row.verify(VERSION)
            if u.set_protocol:
                if by_column:
                    row.verify("protocol")
                self._assign(row, lb, "protocol", u.protocol)
            if u.selection_fields is not None:
                if by_column:
                    row.verify("selection_fields")
                self._assign(row, lb, "selection_fields", u.selection_fields)
            for col, delta in (
                ("vips", u.vips),
                ("external_ids", u.external_ids),
                ("options", u.options),
                ("ip_port_mappings", u.ip_port_mappings),
            ):
                self._mutate_map(row, lb, col, delta, verify=by_column)
            if u.health_check_add or u.health_check_remove:
                if by_column:
                    row.verify("health_check")
                for h_uuid in u.health_check_remove:
                    row.delvalue("health_check", uuidlib.UUID(h_uuid))
                for h_uuid in u.health_check_add:
                    row.addvalue("health_check", uuidlib.UUID(h_uuid))
        for h_upd in plan.hc_updates:
            row = self._existing(hc, h_upd.uuid)
            if h_upd.vip is not None:
                row.verify("vip")
                self._assign(row, hc, "vip", h_upd.vip)
            self._mutate_map(row, hc, "options", h_upd.options)
            self._mutate_map(row, hc, "external_ids", h_upd.external_ids)
        for n in plan.nat_updates:
            row = self._existing("NAT", n.uuid)
            for col, clear in (
                ("logical_port", n.clear_logical_port),
                ("external_mac", n.clear_external_mac),
            ):
                if clear:
                    row.verify(col)
                    self._assign(row, "NAT", col, None)
        # Attach/detach are set mutations: idempotent and commutative with other
        # writers' mutations of the same switch, so they need no verify (and
        # verifying a busy switch's load_balancer column would conflict often).
        inserted = {r.uuid for r in plan.lb_inserts}
        for a in plan.detach:
            self._holder(a.table, a.name).delvalue("load_balancer", uuidlib.UUID(a.lb_uuid))
        for a in plan.attach:
            lb_uuid = uuidlib.UUID(a.lb_uuid)
            if a.lb_uuid not in inserted and lb_uuid not in self._table(lb).rows:
                # ovsdb-server would silently drop a weak reference to a missing row.
                raise BackendError(f"cannot attach missing Load_Balancer row {a.lb_uuid}")
            self._holder(a.table, a.name).addvalue("load_balancer", lb_uuid)
        for d in plan.lb_deletes:
            self._delete(txn, self._existing(lb, d), lb, d)
        for d in plan.hc_deletes:
            self._delete(txn, self._existing(hc, d), hc, d)

    def _holder(self, table: str, name: str) -> Any:
        uuids = self._idl.names[table].get(name, set())
        if len(uuids) != 1:
            what = "no" if not uuids else "more than one"
            raise BackendError(f"{what} {table} row named {name!r}")
        return self._table(table).rows[next(iter(uuids))]

    def _check_basis(self, basis: LbRowSet) -> None:
        """TryAgain when the replica no longer shows what the plan was computed from.

        A local comparison of every row, attachment and NAT of the basis (as
        the memory backend does). The server-side check is the ``verify`` of
        the columns the plan mutates: it compares the replica's values, which
        this makes sure are the basis's.
        """
        idl = self._idl
        for u, b in basis.lbs.items():
            now = idl.canonical_row("Load_Balancer", uuidlib.UUID(u))
            if now is None or LoadBalancerRow(uuid=u, **now) != b:
                raise TryAgain(f"Load_Balancer row {u} changed since it was read")
        for u, h in basis.health_checks.items():
            hnow = idl.canonical_row("Load_Balancer_Health_Check", uuidlib.UUID(u))
            if hnow is None or HealthCheckRow(uuid=u, **hnow) != h:
                raise TryAgain(f"Load_Balancer_Health_Check row {u} changed since it was read")
        for table, holders in (
            ("Logical_Switch", basis.switches),
            ("Logical_Router", basis.routers),
        ):
            index = idl.refs[(table, "load_balancer")]
            for u in set(basis.lbs) | set(holders):
                names = set()
                for holder in index.get(uuidlib.UUID(u), ()):
                    row = idl.canonical_row(table, holder)
                    if row is not None:
                        names.add(row["name"])
                if names != set(holders.get(u, frozenset())):
                    raise TryAgain(f"{table} attachments of {u} changed since they were read")
        for u, n in basis.nats.items():
            nnow = idl.canonical_row("NAT", uuidlib.UUID(u))
            if nnow is None or NatColumns(u, nnow["logical_port"], nnow["external_mac"]) != n:
                raise TryAgain(f"NAT row {u} changed since it was read")

    # -- commit --------------------------------------------------------------

    def _execute(self, txn: Any) -> None:
        Txn = ovs.db.idl.Transaction
        seqno = self._idl.change_seqno
        deadline = time.monotonic() + self.timeout
        status = txn.commit()
        if status == Txn.INCOMPLETE:
            self._txn_count += 1
        while status == Txn.INCOMPLETE:
            now = time.monotonic()
            if now >= deadline:
                txn.abort()
                raise BackendError(
                    f"no reply to the transaction within {self.timeout} s (outcome unknown)"
                )
            self._idl.run()
            status = txn.commit()
            if status != Txn.INCOMPLETE:
                break
            poller = ovs.poller.Poller()
            self._idl.wait(poller)
            txn.wait(poller)
            poller.timer_wait(max(1, int((deadline - now) * 1000)))
            poller.block()
        if status in (Txn.SUCCESS, Txn.UNCHANGED):
            # ovsdb-server sends the update for a client's own transaction
            # before the reply, so the replica already shows the change.
            return
        if status == Txn.TRY_AGAIN:
            self._resync(seqno, deadline)
            raise TryAgain("OVSDB answered TRY_AGAIN (verify failed or reconnected)")
        detail = txn.get_error()
        if status == Txn.ERROR and "duplicate uuid" in detail:
            # A row with the plan's UUID exists: this replica was behind (e.g.
            # an earlier attempt did commit). Re-reading makes the plan right.
            self._resync(seqno, deadline)
            raise TryAgain(f"row inserted already: {detail}")
        raise BackendError(f"transaction failed ({status}): {detail}")

    def _resync(self, seqno: int, deadline: float) -> None:
        """Wait until the replica is live again and shows what made the transaction fail.

        A failed verify or a duplicate insert comes with the update that
        explains it (the server sends updates before the reply), a reconnect
        with a new monitor reply: both move ``change_seqno``. Should neither
        happen, a live replica is accepted after a second.
        """
        deadline = max(deadline, time.monotonic() + 1.0)
        patience = time.monotonic() + 1.0

        def ready() -> bool:
            if not self._synced():
                return False
            return self._idl.change_seqno != seqno or time.monotonic() >= patience

        if not self._run_until(ready, deadline, tick=0.1):
            raise BackendError(f"lost the NB connection to {self.remote}, no resync in time")
        self._idl.ensure_fresh()
