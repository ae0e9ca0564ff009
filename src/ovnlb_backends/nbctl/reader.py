"""Everything about reading through ovn-nbctl lives here: :class:`NbctlReader`.

Every lookup a request makes is a targeted ``find``/``list``/``get`` (one
invocation, or one daemon request); whole tables are read only when asked
for with ``rows(table)``, and lazily.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from ovnlb_backends.base import BackendError
from ovnlb_backends.nbctl.cache import LookupCache
from ovnlb_backends.nbctl.process import NbctlProcess
from ovnlb_backends.nbctl.syntax import (
    HC,
    HEAVY,
    LB,
    Command,
    canonical,
    column_values,
    light_columns,
    list_cmd,
    parse_tables,
    quote_string,
    split_tables,
)
from ovnlb_core.nb import NAMED_TABLES, SCHEMA, Row
from ovnlb_core.topology import INDEXED_EXTERNAL_IDS

__all__ = ["GET_BY_NAME", "MAX_WANTED", "NbctlReader"]


#: A value no ``external_ids`` entry ovnlb looks for holds: ``key!=`` it selects the
#: rows that have the key (ovn-nbctl leaves out rows without it).
_NO_SUCH_VALUE: Final = "ovnlb:no-such-value"
#: Tables whose rows ovn-nbctl's ``get`` finds by name (its row ids; not Gateway_Chassis):
#: only these keep a name's row across requests.
GET_BY_NAME: Final = frozenset(
    {
        "Logical_Switch",
        "Logical_Switch_Port",
        "Logical_Router",
        "Logical_Router_Port",
        "HA_Chassis_Group",
        LB,
    }
)


#: A switch's ports of a type whose rows the next request reads ahead (its router
#: ports) only up to this many: a lookup of its VM ports is not read again unasked.
MAX_WANTED: Final = 16


def _types_cmd(ports: Sequence[str]) -> Command:
    """The ``type`` of each of ``ports``, printed in their order (missing ones left out)."""
    return ["--if-exists", "--columns=type", "list", "Logical_Switch_Port", *ports]


def _types_of(ports: Sequence[str], out: str) -> dict[str, str] | None:
    """Each port's type from :func:`_types_cmd`'s output (None when a port was missing).

    ``list`` prints the records in the order given, so printing no UUIDs
    halves the output; a missing port (``--if-exists``) shows as fewer rows.
    """
    types = column_values(out)
    if len(types) != len(ports):
        return None
    spec = SCHEMA["Logical_Switch_Port"]["type"]
    return {u: str(canonical(spec, t)) for u, t in zip(ports, types, strict=True)}


class _LazyRow(Mapping[str, Any]):
    """A row read without some columns (heavy ones); they are fetched on first access."""

    def __init__(self, reader: NbctlReader, table: str, uuid: str, known: dict[str, Any]) -> None:
        self._reader = reader
        self._table = table
        self._uuid = uuid
        self._known = known

    def __getitem__(self, column: str) -> Any:
        if column not in self._known:
            if column not in SCHEMA[self._table]:
                raise KeyError(column)
            missing = [c for c in SCHEMA[self._table] if c not in self._known]
            self._known.update(self._reader._columns(self._table, self._uuid, missing))
        return self._known[column]

    def __iter__(self) -> Iterator[str]:
        return iter(SCHEMA[self._table])

    def __len__(self) -> int:
        return len(SCHEMA[self._table])

    def __repr__(self) -> str:
        return f"_LazyRow({self._table}, {self._uuid}, {self._known!r})"


class _LazyTable(Mapping[str, Row]):
    """``rows(table)`` of an :class:`NbctlReader`: single rows by UUID are fetched one
    by one (``list TABLE UUID``); iterating lists the whole table once."""

    def __init__(self, reader: NbctlReader, table: str) -> None:
        self._reader = reader
        self._table = table

    def __getitem__(self, uuid: str) -> Row:
        row = self._reader.row(self._table, uuid)
        if row is None:
            raise KeyError(uuid)
        return row

    def __contains__(self, uuid: object) -> bool:
        return isinstance(uuid, str) and self._reader.row(self._table, uuid) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._reader._whole(self._table))

    def __len__(self) -> int:
        return len(self._reader._whole(self._table))


class NbctlReader:
    """NB rows read through ovn-nbctl, each question a targeted read.

    Implements :class:`~ovnlb_backends.base.Reader`: a lookup is a ``find``
    (by name, by referenced row, by ``external_ids`` value) or a ``list`` of
    the UUIDs wanted (a hash lookup through a daemon, which keeps its
    replica; a direct invocation still loads the tables it touches from the
    server). A ``find`` scans its table, so with a ``cache`` (kept across
    readers by the backend) a lookup by name or by pool key first reads the
    rows found there last time, by UUID, and uses them only when that same
    reply shows they still answer it; see :meth:`by_name` and
    :meth:`load_balancers_with_external_id`. A switch's ports of a type
    come from its own port set. Answers are kept for the reader's life:
    take a new reader to see later changes. Only iterating ``rows(table)``
    lists a whole table. The reads are separate invocations, so unlike one
    ``list`` of every table they are not one snapshot: commits check their
    basis again (see :meth:`NbctlBackend.commit`). Rows are shared: treat
    them as read-only.
    """

    def __init__(self, backend: NbctlProcess, cache: LookupCache | None = None) -> None:
        self._backend = backend
        self._cache = cache if cache is not None else LookupCache()
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._rows: dict[str, dict[str, Row | None]] = {t: {} for t in SCHEMA}
        self._tables: dict[str, dict[str, Row]] = {}

    # -- reading -------------------------------------------------------------------

    def _query(
        self, commands: Sequence[tuple[str, Command]], rows_upto: int | None = None
    ) -> list[dict[str, Row]]:
        """Run read commands in one invocation; per command, its rows (uuid -> row).

        The rows of the first ``rows_upto`` commands (all by default) are this
        reader's rows of their table; later commands' (a few columns, for a
        check) are returned as printed.
        """
        if not commands:
            return []
        out = self._backend.run([c for _t, c in commands], json_output=True, read_only=True)
        parsed = parse_tables(out, [t for t, _c in commands])
        return [
            dict(rows) if rows_upto is not None and i >= rows_upto else self._adopt(table, rows)
            for i, (table, rows) in enumerate(parsed)
        ]

    def _adopt(self, table: str, rows: Mapping[str, dict[str, Any]]) -> dict[str, Row]:
        """Printed rows as this reader's rows (lazy for missing heavy columns)."""
        heavy = HEAVY.get(table)
        got: dict[str, Row] = {}
        for u, r in rows.items():
            row: Row = r
            if heavy and any(c not in r for c in heavy):
                row = _LazyRow(self, table, u, r)
            cached = self._rows[table].get(u)
            # One object per row for the reader's life: answers stay consistent.
            got[u] = cached if cached is not None else row
            self._rows[table][u] = got[u]
        return got

    def _find(self, table: str, *conditions: str) -> list[tuple[str, Row]]:
        key = ("find", table, *conditions)
        if key not in self._memo:
            self._find_many([(table, conditions)])
        return list(self._memo[key])

    def _find_many(
        self,
        finds: Sequence[tuple[str, Sequence[str]]],
        extra: Sequence[tuple[str, Command]] = (),
    ) -> list[dict[str, Any]]:
        """The finds not answered yet, in one invocation (answers kept), with the
        ``extra`` commands whose results are returned (``--columns`` of one's own)."""
        commands: list[tuple[str, Command]] = []
        keys: list[tuple[Any, ...]] = []
        for table, conditions in finds:
            key = ("find", table, *conditions)
            if key in self._memo or key in keys:
                continue
            cols = ",".join(["_uuid", *light_columns(table)])
            commands.append((table, [f"--columns={cols}", "find", table, *conditions]))
            keys.append(key)
        if not commands and not extra:
            return []
        results = self._query([*commands, *extra], rows_upto=len(commands))
        for key, rows in zip(keys, results, strict=False):
            self._memo[key] = sorted(rows.items())
        return results[len(keys) :]

    def _columns(self, table: str, uuid: str, columns: Sequence[str]) -> dict[str, Any]:
        """``columns`` of one row (defaults if it is gone)."""
        cols = ",".join(["_uuid", *columns])
        out = self._backend.run(
            [["--if-exists", f"--columns={cols}", "list", table, uuid]],
            json_output=True,
            read_only=True,
        )
        ((_t, rows),) = parse_tables(out, [table])
        row = rows.get(uuid)
        return row if row is not None else {c: SCHEMA[table][c].default() for c in columns}

    def _list_rows(self, table: str, uuids: Sequence[str]) -> list[tuple[str, Row]]:
        """Rows by UUID (those not read yet in one ``list``), sorted by UUID."""
        cache = self._rows[table]
        wanted = [u for u in uuids if u not in cache]
        if wanted:
            self._query([(table, list_cmd(table, wanted, if_exists=True))])
            for u in wanted:
                cache.setdefault(u, None)
        return [(u, r) for u in sorted(uuids) if (r := cache.get(u)) is not None]

    def _whole(self, table: str) -> dict[str, Row]:
        rows = self._tables.get(table)
        if rows is None:
            out = self._backend.run([list_cmd(table)], json_output=True, read_only=True)
            ((_t, listed),) = parse_tables(out, [table])
            rows = self._tables[table] = dict(listed)
            self._rows[table].update(listed)
            if table in GET_BY_NAME:
                # A whole table read tells where each name is: later requests
                # (the load balancers of a sync after its orphan listing) check
                # those hints with `get` instead of scanning with `find`.
                self._cache.learn_names(
                    table, ((u, str(r.get("name", ""))) for u, r in listed.items())
                )
        return rows

    # -- NbReader --------------------------------------------------------------------

    def rows(self, table: str) -> Mapping[str, Row]:
        """All rows of ``table`` keyed by UUID: fetched per UUID, listed whole when iterated."""
        if table not in SCHEMA:
            return {}
        if table in self._tables:
            return MappingProxyType(self._tables[table])
        return _LazyTable(self, table)

    def by_name(self, table: str, name: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose ``name`` column equals ``name``, sorted by UUID (``find``)."""
        if table not in NAMED_TABLES:
            return []
        cond = f"name={quote_string(name, f'{table}.name')}"
        key = ("find", table, cond)
        if key not in self._memo:
            hint = self._cache.name(table, name)
            known = self._named_row(table, name, hint) if hint is not None else None
            if known is not None:
                self._memo[key] = [(hint, known)]
            else:
                found = self._find(table, cond)
                self._cache.set_name(table, name, [u for u, _r in found])
        found = list(self._memo[key])
        if table == LB and found:
            self._prefetch_lbs(found)
        return found

    def _named_row(self, table: str, name: str, uuid: str) -> Row | None:
        """Row ``uuid`` if it is still the only row of ``table`` named ``name``, else None.

        One request: the row by UUID, and ``--if-exists get TABLE NAME _uuid``,
        which ovn-nbctl answers by comparing every row's name in C (no
        condition parsed per row, unlike ``find``): it prints the UUID of the
        only row with that name, nothing when there is none, nothing or an
        error when there are several (any error: the ``find`` answers).
        (``lb-list NAME``, 6x faster over 10k rows, is no proof: ovn-nbctl
        23.03 prints every row so named except those without VIPs.)
        A table whose names ``get`` does not know, or a name ovn-nbctl could
        take for this row's UUID (or a prefix of it) or could not take
        verbatim, is not checked this way (None: ``find``). For a load
        balancer the same request also finds its holders (what
        :func:`~ovnlb_core.rows.lb_rowset` asks next).
        """
        if (
            table not in GET_BY_NAME
            or not name
            or name.startswith("-")
            or "\x00" in name
            or uuid.startswith(name.lower())
        ):
            return None
        known = self._rows[table].get(uuid)  # read already in this request
        cols = ",".join(["_uuid", *light_columns(table)])
        commands: list[tuple[str, Command]] = (
            [] if known else [(table, ["--if-exists", f"--columns={cols}", "list", table, uuid])]
        )
        ahead = self._finds_ahead(table, uuid)
        commands += [(t, c) for _k, t, c in ahead]
        get: Command = ["--if-exists", "get", table, name, "_uuid"]
        try:
            out = self._backend.run(
                [*(c for _t, c in commands), get], json_output=True, read_only=True
            )
        except BackendError:
            # Several rows so named ("multiple rows in ... match"), or no row so
            # named and several whose UUIDs begin with the name: the find says.
            return None
        parsed, rest = split_tables(out, [t for t, _c in commands])
        for (key, t, _c), (_t, found) in zip(
            ahead, parsed[len(parsed) - len(ahead) :], strict=True
        ):
            self._memo[key] = sorted(self._adopt(t, found).items())  # fresh answers either way
        if known:
            ok = known.get("name") == name and rest.strip() == uuid
            return known if ok else None
        row = parsed[0][1].get(uuid)
        if row is None or row.get("name") != name or rest.strip() != uuid:
            return None
        return self._adopt(table, {uuid: row})[uuid]

    def _finds_ahead(self, table: str, uuid: str) -> list[tuple[tuple[Any, ...], str, Command]]:
        """The finds a request makes next about row ``uuid`` found by name: a load
        balancer's holders (:func:`~ovnlb_core.rows.lb_rowset`), a router port's
        router (:class:`~ovnlb_core.topology.Topology`)."""
        if table == LB:
            return self._holder_finds(uuid)
        if table == "Logical_Router_Port":
            return self._referrer_finds([("Logical_Router", f"ports{{>=}}{uuid}")])
        return []

    def _holder_finds(self, lb: str) -> list[tuple[tuple[Any, ...], str, Command]]:
        """The finds of the switches and routers holding ``lb`` not answered yet:
        (memo key, table, command)."""
        cond = f"load_balancer{{>=}}{lb}"
        return self._referrer_finds([("Logical_Switch", cond), ("Logical_Router", cond)])

    def _referrer_finds(
        self, finds: Sequence[tuple[str, str]]
    ) -> list[tuple[tuple[Any, ...], str, Command]]:
        """The ``(table, condition)`` finds not answered yet: (memo key, table, command)."""
        out: list[tuple[tuple[Any, ...], str, Command]] = []
        for table, cond in finds:
            key = ("find", table, cond)
            if key not in self._memo:
                cols = ",".join(["_uuid", *light_columns(table)])
                out.append((key, table, [f"--columns={cols}", "find", table, cond]))
        return out

    def _prefetch_lbs(self, lbs: list[tuple[str, Row]]) -> None:
        """The health checks and holders of load balancer rows, in one invocation.

        What :func:`~ovnlb_core.rows.lb_rowset` reads after finding the rows
        by name: two invocations for a load balancer instead of four or more.
        """
        commands: list[tuple[str, Command]] = []
        keys: list[tuple[Any, ...] | None] = []
        for u, row in lbs:
            for key, table, cmd in self._holder_finds(u):
                commands.append((table, cmd))
                keys.append(key)
            hcs = [h for h in row.get("health_check", ()) if h not in self._rows[HC]]
            if hcs:
                commands.append((HC, list_cmd(HC, hcs, if_exists=True)))
                keys.append(None)
                for h in hcs:
                    self._rows[HC].setdefault(h, None)
        for memo_key, rows in zip(keys, self._query(commands), strict=True):
            if memo_key is not None:
                self._memo[memo_key] = sorted(rows.items())

    # -- Reader lookups ----------------------------------------------------------------

    def row(self, table: str, uuid: str) -> Row | None:
        """Row ``uuid`` of ``table``, or None (``list TABLE UUID``)."""
        if table not in SCHEMA:
            return None
        cache = self._rows[table]
        if uuid in cache:
            return cache[uuid]
        if table in self._tables:
            return self._tables[table].get(uuid)
        try:
            canonical = str(uuidlib.UUID(uuid))
        except (ValueError, TypeError, AttributeError):
            return None
        if canonical != uuid:
            return None
        cols = ",".join(["_uuid", *light_columns(table)])
        (rows,) = self._query([(table, ["--if-exists", f"--columns={cols}", "list", table, uuid])])
        found = rows.get(uuid)
        cache[uuid] = found
        return found

    def referrers(self, table: str, column: str, uuid: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose reference column ``column`` holds ``uuid``, sorted by UUID."""
        spec = SCHEMA.get(table, {}).get(column)
        if spec is None or spec.ref_table is None:
            raise KeyError(f"{table}.{column} is not a reference column")
        try:
            target = str(uuidlib.UUID(uuid))
        except (ValueError, TypeError, AttributeError):
            return []
        return self._find(table, f"{column}{{>=}}{target}")

    def switch_ports_of_type(self, ls_uuid: str, port_type: str) -> list[tuple[str, Row]]:
        """Ports of switch ``ls_uuid`` whose ``type`` is ``port_type``, by UUID.

        From the switch's own port set (``list Logical_Switch UUID``), the
        types of those ports (one ``list``), then the rows of the matching
        ones: O(ports of that switch), flat in the rest of NB.
        """
        key = ("ports_of_type", ls_uuid, port_type)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._list_rows(
                "Logical_Switch_Port", self._typed_ports(ls_uuid).get(port_type, [])
            )
            ls, ports = self._memo[("switch_ports", ls_uuid)]
            if ports and len(found) <= MAX_WANTED:
                self._cache.set_switch_ports(ls, ports, [u for u, _r in found])
        return list(found)

    def _typed_ports(self, ls_uuid: str) -> dict[str, list[str]]:
        """The ports of switch ``ls_uuid`` by ``type`` (answer kept).

        One request when the backend's cache knows the switch's ports: the
        switch's port set, the rows of the ports wanted last time (its router
        ports) and the types of the ports it had last time, used only when
        the port set read in that request is the one remembered (the rows,
        fresh reads, are kept either way). Otherwise a second request reads
        the types of the ports the switch has now.
        """
        key = ("port_types", ls_uuid)
        by_type: dict[str, list[str]] | None = self._memo.get(key)
        if by_type is not None:
            return by_type
        by_type = {}
        ports: list[str] = []
        try:
            ls = str(uuidlib.UUID(ls_uuid))
        except (ValueError, TypeError, AttributeError):
            ls = ""
        if ls:
            lsp = "Logical_Switch_Port"
            hint, wanted = self._cache.switch_ports(ls)
            commands: list[tuple[str, Command]] = [
                (
                    "Logical_Switch",
                    ["--if-exists", "--columns=_uuid,ports", "list", "Logical_Switch", ls],
                )
            ]
            if wanted:
                cols = ",".join(["_uuid", *light_columns(lsp)])
                commands.append((lsp, ["--if-exists", f"--columns={cols}", "list", lsp, *wanted]))
            types = [_types_cmd(hint)] if hint else []
            out = self._backend.run(
                [*(c for _t, c in commands), *types], json_output=True, read_only=True
            )
            got, rest = split_tables(out, [t for t, _c in commands])
            if wanted:
                self._adopt(lsp, got[1][1])
            ls_row = got[0][1].get(ls)
            ports = sorted(ls_row["ports"]) if ls_row is not None else []
            typed = _types_of(hint, rest) if ports and tuple(ports) == hint else None
            if typed is None and ports:
                typed = self._port_types(ports)
            for u, port_type in sorted((typed or {}).items()):
                by_type.setdefault(port_type, []).append(u)
            if ports:
                self._cache.set_switch_ports(ls, ports)
        self._memo[("switch_ports", ls_uuid)] = (ls, ports)
        self._memo[key] = by_type
        return by_type

    def _port_types(self, ports: Sequence[str]) -> dict[str, str]:
        """The ``type`` of each of ``ports`` that exists (one request)."""
        out = self._backend.run([_types_cmd(ports)], json_output=True, read_only=True)
        typed = _types_of(ports, out)
        if typed is None:  # some port is gone: name each row
            cmd = ["--if-exists", "--columns=_uuid,type", "list", "Logical_Switch_Port", *ports]
            ((_t, rows),) = parse_tables(
                self._backend.run([cmd], json_output=True, read_only=True),
                ["Logical_Switch_Port"],
            )
            typed = {u: str(r.get("type", "")) for u, r in rows.items()}
        return typed

    def switch_ports_with_address(self, ls_uuid: str, address: str) -> list[tuple[str, Row]]:
        """Ports of switch ``ls_uuid`` with the token ``address`` in ``addresses``, by UUID.

        ovn-nbctl cannot select on a token of a set element: the first call
        per switch reads the switch's ports (one ``list``) and indexes them.
        """
        key = ("addresses", ls_uuid)
        index: dict[str, list[str]] | None = self._memo.get(key)
        if index is None:
            index = {}
            ls = self.row("Logical_Switch", ls_uuid)
            ports = sorted(ls["ports"]) if ls is not None else []
            if ports:
                cols = ",".join(["_uuid", *SCHEMA["Logical_Switch_Port"]])
                cmd = ["--if-exists", f"--columns={cols}", "list", "Logical_Switch_Port", *ports]
                (rows,) = self._query([("Logical_Switch_Port", cmd)])
                for u in sorted(rows):
                    for entry in rows[u].get("addresses", ()):
                        for token in str(entry).split():
                            index.setdefault(token, []).append(u)
            self._memo[key] = index
        lsps = self._rows["Logical_Switch_Port"]
        return [(u, r) for u in sorted(set(index.get(address, ()))) if (r := lsps.get(u))]

    def rows_with_external_id(self, table: str, key: str, value: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` with ``external_ids[key] == value``, by UUID (``find``)."""
        if (table, key) not in INDEXED_EXTERNAL_IDS:
            raise KeyError(f"{table} external_ids:{key} is not indexed")
        where = f"{table}.external_ids"
        return self._find(
            table, f"external_ids:{quote_string(key, where)}={quote_string(value, where)}"
        )

    def load_balancers_with_external_id(self, keys: Sequence[str]) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows whose external_ids has one of ``keys``, by UUID.

        The rows found last time (the backend's cache) are read whole by UUID,
        as the request will read them next anyway; they are the answer when
        each still holds one of ``keys``. Otherwise (and the first time), a
        ``find`` per key, names only (a pool's row can be megabytes). A row
        that gained one of ``keys`` while the remembered ones kept theirs (two
        load balancers claiming one pool) is not seen until those lose it.
        """
        memo_key = ("with_external_id", *keys)
        if memo_key in self._memo:
            return list(self._memo[memo_key])
        hint = self._cache.pool(keys)
        if hint:
            (rows,) = self._query([(LB, list_cmd(LB, hint, if_exists=True))])
            if all(
                u in rows and any(k in rows[u].get("external_ids", {}) for k in keys) for u in hint
            ):
                found = self._memo[memo_key] = sorted(rows.items())
                return list(found)
        where = "Load_Balancer.external_ids"
        commands: list[tuple[str, Command]] = []
        for key in keys:
            cond = f"external_ids:{quote_string(key, where)}!={quote_string(_NO_SUCH_VALUE)}"
            commands.append((LB, ["--columns=_uuid,name", "find", LB, cond]))
        by_uuid: dict[str, Row] = {}
        for got in self._query(commands, rows_upto=0):
            for u, r in got.items():
                cached = self._rows[LB].get(u)
                by_uuid[u] = cached if cached is not None else _LazyRow(self, LB, u, dict(r))
        found = self._memo[memo_key] = sorted(by_uuid.items())
        self._cache.set_pool(keys, [u for u, _r in found])
        return list(found)

    def load_balancers_with_mapping(self, key: str, value: str) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows with ``ip_port_mappings[key] == value``, by UUID (``find``)."""
        where = "Load_Balancer.ip_port_mappings"
        return self._find(
            LB, f"ip_port_mappings:{quote_string(key, where)}={quote_string(value, where)}"
        )
