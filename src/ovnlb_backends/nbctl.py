"""The ``ovn-nbctl`` backend: every plan is one ``ovn-nbctl`` invocation.

:class:`NbctlBackend` drives Debian's ``ovn-nbctl`` (OVN 23.03, Open vSwitch
library 3.1) as a subprocess, with an argv list (never a shell), or, in
daemon mode and for values too large for an argv, as the same argv strings
sent to an ``ovn-nbctl`` daemon's unixctl socket (see "Talking to a daemon"
below). A :class:`~ovnlb_core.plan.Plan` becomes one invocation whose
commands are joined with ``--``; ovn-nbctl runs them as one OVSDB
transaction. Every value is written in ovn-nbctl's own value syntax: strings always as double-quoted
JSON strings (``json.dumps``, ASCII-only, so ``"``, ``\\``, ``,``, ``:``,
``=``, blanks, newlines, braces and non-ASCII text survive exactly), maps as
``{"k"="v", ...}``, sets as ``[a, b]``.

How a plan is written (measured on the wire, ovsdb-server's jsonrpc log):

* inserts: ``--id=<uuid> create TABLE ...``. ovn-nbctl 23.03 (OVS 3.1) sends
  the plan's UUID in the insert (``"uuid"``, like the IDL's
  ``persist_uuid``), so new rows keep the plan's deterministic UUIDs and
  later commands of the same invocation refer to them by that UUID. A
  retried commit of a plan that did commit fails with ``duplicate uuid``,
  which becomes :class:`~ovnlb_backends.base.TryAgain`: the caller re-reads
  and re-plans to nothing.
* map keys set: ``set TABLE ROW col:key=value ...`` (one command per row),
  sent as a ``mutate`` (delete key + insert). Caveat of ovn-nbctl: when its
  replica does not hold the key it sends only the ``insert``, which does not
  overwrite a key another client added in between.
* map keys and set members removed: ``remove TABLE ROW col key ...``.
  ovn-nbctl 3.1 has no mutate for this: it rewrites the whole column and
  guards it with a ``wait`` on its own fresh copy (a concurrent change makes
  the server answer TRY_AGAIN, and ovn-nbctl re-runs its commands on fresh
  data; nothing is lost, but the whole column is sent).
* attach/detach: ``--may-exist ls-lb-add`` / ``--if-exists ls-lb-del`` (and
  ``lr-``), which are set mutations of the holder's ``load_balancer``; the
  generic ``remove`` would rewrite the whole set. ``ls-lb-add`` also refuses
  a load balancer row that does not exist.
* deletes: ``destroy``. For rows of non-root tables (health checks) the C IDL
  sends no delete and leaves the row to garbage collection, like the Python
  IDL before ovs 3.2: deleting a still-referenced health check is not an
  error here.

What this backend cannot guarantee (unlike :class:`~ovnlb_backends.idl.IdlBackend`):

* no optimistic ``verify`` of the basis. ovn-nbctl has no non-blocking
  conditional command (``wait-until`` blocks until the condition holds).
  With a ``basis``, :meth:`NbctlBackend.commit` reads the basis rows in a
  separate read-only invocation first and raises ``TryAgain`` when they
  differ; a change between that read and the write is not detected. Updates
  and deletes of rows that have disappeared do fail (``no row``) and become
  ``TryAgain``.
* ovn-nbctl retries TRY_AGAIN itself (reconnect with the transaction in
  flight, failed ``wait``) by re-running its commands on fresh data. Those
  are idempotent (keys set or removed, ``--may-exist``/``--if-exists``
  attach and detach); an insert or delete that did commit before a
  reconnect makes the re-run fail (``duplicate uuid``, ``no row``), which
  becomes ``TryAgain``, so a caller that re-reads and re-plans applies the
  change once.
* a timeout (``--timeout``, ovn-nbctl then dies of SIGALRM; through a daemon,
  no reply within ``timeout``) leaves the outcome unknown:
  :class:`~ovnlb_backends.base.BackendError`.
* ovn-nbctl adds a ``comment`` with its whole command line to every write
  transaction (it lands in the database log), and creates the ``NB_Global``
  row in the first invocation against a database without one, even a
  read-only one.
* :meth:`NbctlBackend.transaction_count` counts write invocations that
  succeeded; one whose commands changed nothing writes no database record.
* every direct invocation loads the tables it touches from the server (slow
  with many rows); daemon mode keeps one replica in a long-running
  ``ovn-nbctl`` process, which may lag other clients' writes by the time an
  update takes to arrive.

Reading (:meth:`NbctlBackend.reader`): every lookup a request makes is a
targeted read (``find`` by name, by referenced row, by ``external_ids``
value, by port type; ``list`` of given UUIDs), in the canonical form of
:mod:`ovnlb_core.nb`; only iterating ``rows(table)`` lists a whole table.
Through a daemon, whose replica is already loaded, a request's reads then
cost the rows they return, however many load balancers and ports NB holds.

Daemon mode: ``daemon=True`` starts ``ovn-nbctl --detach`` in a private
temporary folder (stopped by :meth:`NbctlBackend.close`); with ``daemon=None``
(the default) an ``OVN_NB_DAEMON`` set in the environment is used; ``False``
runs ovn-nbctl directly (but see "Large values" below). ``OVN_NBCTL_OPTIONS``
is never passed on: it could change the output format this module parses.

Talking to a daemon (and large values):

* The stock client (``OVN_NB_DAEMON=... ovn-nbctl ARGS``) sends its ARGS to
  the daemon's unixctl socket as one JSON-RPC request, verified on the
  daemon's ``-vunixctl:dbg`` log and in ovn-dbctl.c (``dbctl_client``,
  ``server_cmd_run``)::

      {"method": "run", "params": ["--format=json", "--", <command 1 argv>,
                                   "--", <command 2 argv>, ...], "id": 0}

  i.e. its options except the client-only ones (``--timeout``, ``--db``,
  TLS, logging) followed by ``--`` and the remaining argv strings verbatim.
  The daemon answers ``{"result": <stdout text>, "error": null}`` or
  ``{"result": null, "error": <message>}``; the stock client then prints
  ``ovn-nbctl: <message>`` on stderr and exits with 1.
* The stock client takes ARGS from its own argv, so it is bound by the
  kernel's limits (``MAX_ARG_STRLEN``, 128 KiB per string, and ``ARG_MAX``
  for argv plus environment): a pool of 10k members makes ~1 MB
  ``vips`` and ``pool_<id>`` values and ``E2BIG``. This backend therefore
  never runs the stock client: with a daemon (``daemon=True`` or
  ``$OVN_NB_DAEMON``) **every** invocation is that ``run`` request, sent by
  this module itself over the unix socket (no process, no shell, no argv
  limit; the argv strings, hence the quoting, are exactly those of the
  direct path). A daemon's error becomes the same :class:`BackendError`
  text as the subprocess path (``ovn-nbctl failed (1): ovn-nbctl:
  <message>``), so ``duplicate uuid`` and ``no row`` become ``TryAgain``
  the same way. ``timeout`` bounds each request (connect, send and reply);
  an expired one leaves the outcome unknown (the daemon finishes the
  command on its own): :class:`BackendError`.
* In direct mode, an invocation whose argv would not fit (one argument
  over 100 KiB, or argv plus environment over half of ``ARG_MAX``) starts a
  private daemon on first need (the same code as ``daemon=True``, with the
  same remote and TLS files) and goes through it; smaller invocations stay
  direct (fresh reads). The daemon lives until :meth:`NbctlBackend.close`.
  Its replica is loaded when it starts and then follows the server's
  updates: a row written by a direct invocation a moment before may not
  have reached it yet, which makes an update of that row fail with ``no
  row`` (``TryAgain``: the caller re-reads and re-plans).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid as uuidlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from ovnlb_backends.base import BackendError, TryAgain
from ovnlb_backends.sandbox import _pid_alive
from ovnlb_core import rawops
from ovnlb_core.nb import NAMED_TABLES, SCHEMA, Column, Row
from ovnlb_core.plan import (
    HealthCheckRow,
    LbRowSet,
    LoadBalancerRow,
    MapDelta,
    NatColumns,
    Plan,
)
from ovnlb_core.topology import INDEXED_EXTERNAL_IDS

__all__ = ["NbctlBackend", "NbctlReader", "quote_string"]

_LB: Final = "Load_Balancer"
_HC: Final = "Load_Balancer_Health_Check"
_NO_ROW_RE: Final = re.compile(r'no row "([^"]*)" in table (\w+)')
_HOLDER_CMDS: Final = {
    "Logical_Switch": ("ls-lb-add", "ls-lb-del"),
    "Logical_Router": ("lr-lb-add", "lr-lb-del"),
}

Command = list[str]

#: Longest single argv string passed to a process (Linux refuses strings over
#: MAX_ARG_STRLEN = 128 KiB with E2BIG); longer ones go through a daemon.
ARG_LIMIT: Final = 100 * 1024
#: Unix socket paths longer than this do not fit ``sockaddr_un.sun_path``.
_SUN_PATH_MAX: Final = 107
_RECV_SIZE: Final = 1 << 20


# ---------------------------------------------------------------------------
# Values in ovn-nbctl syntax
# ---------------------------------------------------------------------------


def quote_string(value: str, where: str = "value") -> str:
    """``value`` as an ovn-nbctl string atom: a double-quoted JSON string (ASCII only).

    Quoted strings are always strings for ovn-nbctl (``"true"``, ``"12"`` or a
    UUID-looking text included). OVSDB strings cannot hold NUL, and unpaired
    surrogates are no Unicode: both are refused here.
    """
    if not isinstance(value, str):
        raise BackendError(f"{where}: {value!r} is not a string")
    if "\x00" in value:
        raise BackendError(f"{where}: {value!r}: OVSDB strings cannot contain NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BackendError(f"{where}: {value!r} is not valid Unicode") from None
    return json.dumps(value, ensure_ascii=True)


def _atom(spec: Column, value: Any, where: str) -> str:
    if spec.atom == "string":
        return quote_string(value, where)
    if spec.atom == "boolean":
        if not isinstance(value, bool):
            raise BackendError(f"{where}: {value!r} is not a boolean")
        return "true" if value else "false"
    if spec.atom == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise BackendError(f"{where}: {value!r} is not an integer")
        return str(value)
    return _uuid(value, where)


def _uuid(value: Any, where: str) -> str:
    """``value`` as a UUID in canonical form (ovn-nbctl would read other text as a name)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return str(uuidlib.UUID(value))
    raise BackendError(f"{where}: {value!r} is not a UUID")


def _map_items(value: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(value, Mapping):
        raise BackendError(f"{where}: expected a map of strings, got {value!r}")
    return [(quote_string(k, where), quote_string(v, where)) for k, v in value.items()]


def _datum(spec: Column, value: Any, where: str) -> str:
    """A whole column value in ovn-nbctl syntax (for ``create`` and ``set col=...``)."""
    if spec.kind == "map":
        return "{" + ", ".join(f"{k}={v}" for k, v in _map_items(value, where)) + "}"
    if spec.kind == "set":
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise BackendError(f"{where}: expected a set, got {value!r}")
        return "[" + ", ".join(_atom(spec, v, where) for v in value) + "]"
    if spec.kind == "optional" and value is None:
        return "[]"
    return _atom(spec, value, where)


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def _json_atom(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and value[0] in ("uuid", "named-uuid"):
        return value[1]
    return value


def _canonical(spec: Column, cell: Any) -> Any:
    """One ``--format=json`` cell in the canonical form of :mod:`ovnlb_core.nb`."""
    if spec.kind == "map":
        if not (isinstance(cell, list) and len(cell) == 2 and cell[0] == "map"):
            raise BackendError(f"ovn-nbctl printed {cell!r} for a map column")
        return {_json_atom(k): _json_atom(v) for k, v in cell[1]}
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "set":
        atoms = [_json_atom(a) for a in cell[1]]
    else:  # a set of one element is printed as the bare atom
        atoms = [_json_atom(cell)]
    if spec.kind == "set":
        return tuple(sorted(atoms))
    if spec.kind == "optional":
        return atoms[0] if atoms else None
    return atoms[0] if atoms else spec.default()


def _parse_tables(out: str, tables: Sequence[str]) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """The JSON objects ovn-nbctl printed, one per ``list``/``find`` command, as rows.

    Rows hold the printed columns (``_uuid`` aside) in canonical form.
    """
    decoder = json.JSONDecoder()
    result: list[tuple[str, dict[str, dict[str, Any]]]] = []
    pos = 0
    try:
        for table in tables:
            while pos < len(out) and out[pos].isspace():
                pos += 1
            doc, pos = decoder.raw_decode(out, pos)
            headings = doc["headings"]
            specs = SCHEMA[table]
            rows: dict[str, dict[str, Any]] = {}
            for cells in doc["data"]:
                record = dict(zip(headings, cells, strict=True))
                uuid = _json_atom(record.pop("_uuid"))
                rows[uuid] = {col: _canonical(specs[col], v) for col, v in record.items()}
            result.append((table, rows))
    except (ValueError, KeyError, TypeError) as exc:
        raise BackendError(f"cannot parse ovn-nbctl output: {exc}: {out[:200]!r}") from None
    return result


def _list_cmd(table: str, records: Sequence[str] = (), *, if_exists: bool = False) -> Command:
    cols = ",".join(["_uuid", *SCHEMA[table]])
    return [*(["--if-exists"] if if_exists else []), f"--columns={cols}", "list", table, *records]


#: Columns that can hold thousands of references (a network's ports, the load
#: balancers of a busy switch): targeted reads leave them out and fetch them only
#: when a row's value is looked at (:class:`_LazyRow`).
_HEAVY: Final[dict[str, tuple[str, ...]]] = {
    "Logical_Switch": ("ports", "load_balancer"),
    "Logical_Router": ("nat", "load_balancer"),
}
#: A value no ``external_ids`` entry ovnlb looks for holds: ``key!=`` it selects the
#: rows that have the key (ovn-nbctl leaves out rows without it).
_NO_SUCH_VALUE: Final = "ovnlb:no-such-value"
_ROUTER_TYPE: Final = 'type="router"'
#: Up to this many candidate ports are checked one by one for being on a switch.
_MAX_CHECKS: Final = 32


def _light_columns(table: str) -> list[str]:
    heavy = _HEAVY.get(table, ())
    return [c for c in SCHEMA[table] if c not in heavy]


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
    (by name, by referenced row, by ``external_ids`` value, by port type) or
    a ``list`` of the UUIDs wanted, so its cost follows the rows it returns,
    not the size of the tables (through a daemon, which keeps its replica;
    a direct invocation still loads the tables it touches from the server).
    Answers are kept for the reader's life: take a new reader to see later
    changes. Only iterating ``rows(table)`` lists a whole table. The reads
    are separate invocations, so unlike one ``list`` of every table they
    are not one snapshot: commits check their basis again (see
    :meth:`NbctlBackend.commit`). Rows are shared: treat them as read-only.
    """

    def __init__(self, backend: NbctlBackend) -> None:
        self._backend = backend
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
        out = self._backend._run([c for _t, c in commands], json_output=True, read_only=True)
        parsed = _parse_tables(out, [t for t, _c in commands])
        result: list[dict[str, Row]] = []
        for i, (table, rows) in enumerate(parsed):
            if rows_upto is not None and i >= rows_upto:
                result.append(dict(rows))
                continue
            heavy = _HEAVY.get(table)
            got: dict[str, Row] = {}
            for u, r in rows.items():
                row: Row = r
                if heavy and any(c not in r for c in heavy):
                    row = _LazyRow(self, table, u, r)
                cached = self._rows[table].get(u)
                # One object per row for the reader's life: answers stay consistent.
                got[u] = cached if cached is not None else row
                self._rows[table][u] = got[u]
            result.append(got)
        return result

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
            cols = ",".join(["_uuid", *_light_columns(table)])
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
        out = self._backend._run(
            [["--if-exists", f"--columns={cols}", "list", table, uuid]],
            json_output=True,
            read_only=True,
        )
        ((_t, rows),) = _parse_tables(out, [table])
        row = rows.get(uuid)
        return row if row is not None else {c: SCHEMA[table][c].default() for c in columns}

    def _uuids(self, table: str, condition: str) -> list[str]:
        """UUIDs of the rows of ``table`` matching ``condition`` (sorted; answer kept)."""
        key = ("uuids", table, condition)
        found = self._memo.get(key)
        if found is None:
            out = self._backend._run(
                [["--columns=_uuid", "find", table, condition]], json_output=True, read_only=True
            )
            ((_t, rows),) = _parse_tables(out, [table])
            found = self._memo[key] = sorted(rows)
        return list(found)

    def _list_rows(self, table: str, uuids: Sequence[str]) -> list[tuple[str, Row]]:
        """Rows by UUID (those not read yet in one ``list``), sorted by UUID."""
        cache = self._rows[table]
        wanted = [u for u in uuids if u not in cache]
        if wanted:
            self._query([(table, _list_cmd(table, wanted, if_exists=True))])
            for u in wanted:
                cache.setdefault(u, None)
        return [(u, r) for u in sorted(uuids) if (r := cache.get(u)) is not None]

    def _whole(self, table: str) -> dict[str, Row]:
        rows = self._tables.get(table)
        if rows is None:
            out = self._backend._run([_list_cmd(table)], json_output=True, read_only=True)
            ((_t, listed),) = _parse_tables(out, [table])
            rows = self._tables[table] = dict(listed)
            self._rows[table].update(listed)
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
        key = ("uuids", "Logical_Switch_Port", _ROUTER_TYPE)
        if table == "Logical_Switch" and key not in self._memo:
            # A request that looks at a network asks next for its router ports:
            # the UUIDs of the router-type ports (of every network) come along.
            extra = [("Logical_Switch_Port", ["--columns=_uuid", "find", *key[1:]])]
            (router_ports,) = self._find_many([(table, [cond])], extra)
            self._memo[key] = sorted(router_ports)
        found = self._find(table, cond)
        if table == _LB and found:
            self._prefetch_lbs(found)
        return found

    def _prefetch_lbs(self, lbs: list[tuple[str, Row]]) -> None:
        """The health checks and holders of load balancer rows, in one invocation.

        What :func:`~ovnlb_core.rows.lb_rowset` reads after finding the rows
        by name: two invocations for a load balancer instead of four or more.
        """
        commands: list[tuple[str, Command]] = []
        keys: list[tuple[Any, ...] | None] = []
        for u, row in lbs:
            for table in ("Logical_Switch", "Logical_Router"):
                cond = f"load_balancer{{>=}}{u}"
                key = ("find", table, cond)
                if key not in self._memo:
                    cols = ",".join(["_uuid", *_light_columns(table)])
                    commands.append((table, [f"--columns={cols}", "find", table, cond]))
                    keys.append(key)
            hcs = [h for h in row.get("health_check", ()) if h not in self._rows[_HC]]
            if hcs:
                commands.append((_HC, _list_cmd(_HC, hcs, if_exists=True)))
                keys.append(None)
                for h in hcs:
                    self._rows[_HC].setdefault(h, None)
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
        cols = ",".join(["_uuid", *_light_columns(table)])
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

        The UUIDs of the ports of that type (of every switch: router ports are
        few next to VM ports), which of them the switch holds, then their rows.
        """
        key = ("ports_of_type", ls_uuid, port_type)
        found = self._memo.get(key)
        if found is None:
            cond = f"type={quote_string(port_type, 'type')}"
            held = self._on_switch(ls_uuid, self._uuids("Logical_Switch_Port", cond))
            found = self._memo[key] = self._list_rows("Logical_Switch_Port", held)
        return list(found)

    def _on_switch(self, ls_uuid: str, candidates: list[str]) -> list[str]:
        try:
            ls = str(uuidlib.UUID(ls_uuid))
        except (ValueError, TypeError, AttributeError):
            return []
        if not candidates:
            return []
        if len(candidates) > _MAX_CHECKS:
            # Many networks with router ports: one read of the switch's port set
            # costs less than a check per candidate.
            ls_row = self.row("Logical_Switch", ls)
            held_ports = set(ls_row["ports"]) if ls_row is not None else set()
            return [c for c in candidates if c in held_ports]
        checks: list[tuple[str, Command]] = [
            ("Logical_Switch", ["--columns=_uuid", "find", "Logical_Switch", f"ports{{>=}}{u}"])
            for u in candidates
        ]
        held = self._find_many([], checks)
        return [c for c, rows in zip(candidates, held, strict=True) if ls in rows]

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
        """``Load_Balancer`` rows whose external_ids has one of ``keys``, by UUID (``find``)."""
        where = "Load_Balancer.external_ids"
        commands: list[tuple[str, Command]] = []
        for key in keys:
            cond = f"external_ids:{quote_string(key, where)}!={quote_string(_NO_SUCH_VALUE)}"
            # Names only (a pool's row can be megabytes): the rest when read.
            commands.append((_LB, ["--columns=_uuid,name", "find", _LB, cond]))
        found: dict[str, Row] = {}
        for rows in self._query(commands, rows_upto=0):
            for u, r in rows.items():
                cached = self._rows[_LB].get(u)
                found[u] = cached if cached is not None else _LazyRow(self, _LB, u, dict(r))
        return sorted(found.items())

    def load_balancers_with_mapping(self, key: str, value: str) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows with ``ip_port_mappings[key] == value``, by UUID (``find``)."""
        where = "Load_Balancer.ip_port_mappings"
        return self._find(
            _LB, f"ip_port_mappings:{quote_string(key, where)}={quote_string(value, where)}"
        )


# ---------------------------------------------------------------------------
# Building the commands of a plan
# ---------------------------------------------------------------------------


def _create(table: str, uuid: str, columns: Mapping[str, Any]) -> Command:
    specs = SCHEMA[table]
    cmd = [f"--id={_uuid(uuid, f'{table} row UUID')}", "create", table]
    for col, value in columns.items():
        spec = specs.get(col)
        if spec is None:
            raise BackendError(f"unknown column {table}.{col}")
        if value is None and spec.kind == "optional":
            continue  # the default
        cmd.append(f"{col}={_datum(spec, value, f'{table}.{col}')}")
    return cmd


def _map_commands(table: str, uuid: str, deltas: Mapping[str, MapDelta]) -> list[Command]:
    """``remove`` of deleted keys (per column), then one ``set`` of every key to set."""
    out: list[Command] = []
    sets: list[str] = []
    for col, delta in deltas.items():
        where = f"{table}.{col}"
        if delta.delete:
            out.append(
                ["remove", table, uuid, col, *(quote_string(k, where) for k in delta.delete)]
            )
        for k, v in _map_items(delta.set, where):
            sets.append(f"{col}:{k}={v}")
    if sets:
        # All keys of a row in one command: ovn-nbctl sends a partial (mutate)
        # update only for the last command touching a column.
        out.append(["set", table, uuid, *sets])
    return out


def _plan_commands(plan: Plan) -> tuple[list[Command], set[str]]:
    """The commands of ``plan`` and the UUIDs of the rows it updates or deletes."""
    lb_spec, hc_spec = SCHEMA[_LB], SCHEMA[_HC]
    cmds: list[Command] = []
    touched: set[str] = set()
    for h in plan.hc_inserts:
        cmds.append(
            _create(
                _HC, h.uuid, {"vip": h.vip, "options": h.options, "external_ids": h.external_ids}
            )
        )
    for r in plan.lb_inserts:
        columns = {
            "name": r.name,
            "protocol": r.protocol,
            "vips": r.vips,
            "external_ids": r.external_ids,
            "selection_fields": r.selection_fields,
            "options": r.options,
            "ip_port_mappings": r.ip_port_mappings,
            "health_check": r.health_check,
        }
        cmds.append(_create(_LB, r.uuid, columns))
    for u in plan.lb_updates:
        uuid = _uuid(u.uuid, "Load_Balancer row UUID")
        touched.add(uuid)
        if u.set_protocol:
            if u.protocol is None:
                cmds.append(["clear", _LB, uuid, "protocol"])
            else:
                value = _datum(lb_spec["protocol"], u.protocol, "Load_Balancer.protocol")
                cmds.append(["set", _LB, uuid, f"protocol={value}"])
        if u.selection_fields is not None:
            where = "Load_Balancer.selection_fields"
            value = _datum(lb_spec["selection_fields"], u.selection_fields, where)
            cmds.append(["set", _LB, uuid, f"selection_fields={value}"])
        deltas = {
            "vips": u.vips,
            "external_ids": u.external_ids,
            "options": u.options,
            "ip_port_mappings": u.ip_port_mappings,
        }
        cmds += _map_commands(_LB, uuid, deltas)
        if u.health_check_remove:
            removed = [_uuid(h, "Load_Balancer.health_check") for h in u.health_check_remove]
            cmds.append(["remove", _LB, uuid, "health_check", *removed])
        if u.health_check_add:
            added = [_uuid(h, "Load_Balancer.health_check") for h in u.health_check_add]
            cmds.append(["add", _LB, uuid, "health_check", *added])
    for hu in plan.hc_updates:
        uuid = _uuid(hu.uuid, f"{_HC} row UUID")
        touched.add(uuid)
        if hu.vip is not None:
            cmds.append(["set", _HC, uuid, f"vip={_datum(hc_spec['vip'], hu.vip, f'{_HC}.vip')}"])
        cmds += _map_commands(_HC, uuid, {"options": hu.options, "external_ids": hu.external_ids})
    for n in plan.nat_updates:
        uuid = _uuid(n.uuid, "NAT row UUID")
        touched.add(uuid)
        flags = (("logical_port", n.clear_logical_port), ("external_mac", n.clear_external_mac))
        cols = [c for c, on in flags if on]
        if cols:
            cmds.append(["clear", "NAT", uuid, *cols])
    for a in plan.detach:
        lb = _uuid(a.lb_uuid, "detached Load_Balancer")
        cmds.append(["--if-exists", _HOLDER_CMDS[a.table][1], _holder(a.name), lb])
    for a in plan.attach:
        lb = _uuid(a.lb_uuid, "attached Load_Balancer")
        cmds.append(["--may-exist", _HOLDER_CMDS[a.table][0], _holder(a.name), lb])
    for table, deletes in ((_LB, plan.lb_deletes), (_HC, plan.hc_deletes)):
        for d in deletes:
            uuid = _uuid(d, f"{table} row UUID")
            touched.add(uuid)
            cmds.append(["destroy", table, uuid])
    return cmds, touched


def _holder(name: str) -> str:
    # ls-lb-add takes the switch's name verbatim (not in value syntax).
    # A bare "--" would end the command; NUL cannot be passed in argv.
    if not isinstance(name, str) or name in ("", "--") or "\x00" in name:
        raise BackendError(f"switch or router name {name!r} cannot be passed to ovn-nbctl")
    return name


def _raw_commands(ops: Sequence[rawops.ResolvedOp]) -> list[Command]:
    cmds: list[Command] = []
    for op in ops:
        if isinstance(op, rawops.RowInsert):
            cmds.append(_create(op.table, op.uuid, op.columns))
        elif isinstance(op, rawops.RowUpdate):
            specs = SCHEMA[op.table]
            assigns = []
            for col, value in op.columns.items():
                if col not in specs:
                    raise BackendError(f"unknown column {op.table}.{col}")
                assigns.append(f"{col}={_datum(specs[col], value, f'{op.table}.{col}')}")
            if assigns:
                cmds.append(["set", op.table, _uuid(op.uuid, "row UUID"), *assigns])
        else:
            cmds.append(["destroy", op.table, _uuid(op.uuid, "row UUID")])
    return cmds


def _exec_total_limit() -> int:
    """A safe bound for argv plus environment: half of ``ARG_MAX`` (at most 1 MiB)."""
    try:
        arg_max = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        arg_max = -1
    if arg_max <= 0:
        arg_max = 128 * 1024
    return min(arg_max // 2, 1 << 20)


def _fits_argv(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    """True when ``argv`` with ``env`` can be passed to a process without E2BIG.

    Counts what the kernel copies: each string with its NUL, and a pointer
    per string.
    """
    total = 0
    for arg in argv:
        size = len(arg.encode("utf-8", "surrogateescape")) + 1
        if size > ARG_LIMIT:
            return False
        total += size + 8
    for k, v in env.items():
        total += len(k.encode("utf-8", "surrogateescape")) + len(
            v.encode("utf-8", "surrogateescape")
        )
        total += 2 + 8
    return total <= _exec_total_limit()


def _unixctl_path(path: str) -> str:
    """``path`` made absolute the way ovn-nbctl's client does (relative to the OVS rundir)."""
    if os.path.isabs(path):
        return path
    rundir = os.environ.get("OVS_RUNDIR") or "/var/run/openvswitch"
    return os.path.join(rundir, path)


def _connect_unix(sock: socket.socket, path: str) -> None:
    """Connect ``sock`` to ``path``, through ``/proc/self/fd`` when the path is too long."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        sock.connect(path)
        return
    directory, name = os.path.split(path)
    fd = os.open(directory or ".", os.O_PATH | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{fd}/{name}")
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# The backend
# ---------------------------------------------------------------------------


class NbctlBackend:
    """:class:`~ovnlb_backends.base.Backend` on ``ovn-nbctl`` (see the module docstring).

    ``remote`` is the NB remote (``--db``); ``private_key`` / ``certificate``
    / ``ca_cert`` are PEM files for ``ssl:`` remotes (``-p``/``-c``/``-C``).
    ``timeout`` (seconds) bounds each invocation. ``daemon``: True starts a
    private ``ovn-nbctl`` daemon, None uses ``$OVN_NB_DAEMON`` when set, False
    runs ovn-nbctl directly, except invocations too large for an argv, which
    go through a private daemon started on first need (see the module
    docstring). ``check_basis=False`` skips the read that compares a commit's
    basis with the database.
    """

    def __init__(
        self,
        remote: str,
        *,
        nbctl: str = "ovn-nbctl",
        private_key: str | None = None,
        certificate: str | None = None,
        ca_cert: str | None = None,
        timeout: float = 30.0,
        daemon: bool | None = None,
        check_basis: bool = True,
    ) -> None:
        self.remote = remote
        self.nbctl = nbctl
        self.timeout = timeout
        self.check_basis = check_basis
        self._tls = [
            f"--{opt}={path}"
            for opt, path in (
                ("private-key", private_key),
                ("certificate", certificate),
                ("ca-cert", ca_cert),
            )
            if path
        ]
        self._txns = 0
        self._invocations = 0
        self._daemon_dir: Path | None = None
        self._daemon_pid: int | None = None
        self.daemon_socket: str | None = None
        # The private daemon of a direct-mode backend, for oversized invocations.
        self._oversize_socket: str | None = None
        self._rpc_id = 0
        #: The connection kept open to the daemon for read-only requests.
        self._read_sock: socket.socket | None = None
        self._read_sock_path: str | None = None
        if daemon is None:
            self.daemon_socket = os.environ.get("OVN_NB_DAEMON") or None
        elif daemon:
            self.daemon_socket = self._start_daemon()

    # -- processes -------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        # Processes run directly (or detach as a daemon): never as a client
        # of a daemon, which this module talks to itself.
        return {
            k: v for k, v in os.environ.items() if k not in ("OVN_NBCTL_OPTIONS", "OVN_NB_DAEMON")
        }

    def _start_daemon(self) -> str:
        """Start a private daemon (stopped by :meth:`close`); its unixctl socket."""
        d = Path(tempfile.mkdtemp(prefix="ovnlb-nbctl-"))
        self._daemon_dir = d
        atexit.register(self.close)
        argv = [
            self.nbctl,
            f"--db={self.remote}",
            *self._tls,
            "--detach",
            "--no-chdir",
            f"--pidfile={d / 'nbctl.pid'}",
            f"--log-file={d / 'nbctl.log'}",
            f"--unixctl={d / 'nbctl.ctl'}",
        ]
        env = {**self._env(), "OVN_RUNDIR": str(d)}
        try:
            with open(d / "stderr", "wb") as err:
                # --detach returns once the daemon has connected to the
                # database (never, for an unreachable one: hence the timeout).
                proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
            try:
                rc = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._daemon_pid = self._read_pid()
                raise BackendError(
                    f"ovn-nbctl daemon did not connect to {self.remote} within {self.timeout} s"
                ) from None
            self._daemon_pid = self._read_pid()
            if rc != 0:
                msg = (d / "stderr").read_text(errors="replace").strip()
                raise BackendError(f"cannot start the ovn-nbctl daemon: {msg}")
        except OSError as exc:
            self.close()
            raise BackendError(f"cannot start {self.nbctl}: {exc}") from None
        except BaseException:
            self.close()
            raise
        return str(d / "nbctl.ctl")

    def _read_pid(self) -> int | None:
        assert self._daemon_dir is not None
        try:
            return int((self._daemon_dir / "nbctl.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def daemon_pid(self) -> int | None:
        """PID of the daemon this backend started (None without one).

        That is the ``daemon=True`` daemon, or the one a direct-mode backend
        started for an oversized invocation.
        """
        return self._daemon_pid

    def close(self) -> None:
        """Stop the daemon this backend started (if any) and remove its folder; idempotent."""
        atexit.unregister(self.close)
        self._close_read_sock()
        pid, self._daemon_pid = self._daemon_pid, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self._daemon_dir is not None:
            shutil.rmtree(self._daemon_dir, ignore_errors=True)
            self._daemon_dir = None
            self.daemon_socket = None
            self._oversize_socket = None

    def _argv(self, commands: Sequence[Command], *, json_output: bool) -> list[str]:
        argv = [
            self.nbctl,
            f"--timeout={max(1, math.ceil(self.timeout))}",
            f"--db={self.remote}",
            *self._tls,
        ]
        if json_output:
            argv.append("--format=json")
        for cmd in commands:
            # A leading "--" too: the first command may have options (--id=...).
            argv += ["--", *cmd]
        return argv

    def _run(
        self, commands: Sequence[Command], *, json_output: bool = False, read_only: bool = False
    ) -> str:
        """Run one invocation; its stdout, or BackendError with ovn-nbctl's stderr.

        Through the daemon when there is one; directly otherwise, unless the
        argv would be too large for the kernel: then through a private daemon
        started now (see the module docstring). ``read_only`` commands share
        one kept connection to a daemon.
        """
        if self.daemon_socket:
            return self._run_in_daemon(
                self.daemon_socket, commands, json_output=json_output, read_only=read_only
            )
        argv = self._argv(commands, json_output=json_output)
        env = self._env()
        if not _fits_argv(argv, env):
            if self._oversize_socket is None:
                self._oversize_socket = self._start_daemon()
            return self._run_in_daemon(self._oversize_socket, commands, json_output=json_output)
        self._invocations += 1
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                encoding="utf-8",
                env=env,
                timeout=self.timeout + 5,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BackendError(
                f"ovn-nbctl gave no answer within {self.timeout} s (outcome unknown)"
            ) from None
        except (OSError, ValueError, UnicodeError) as exc:
            raise BackendError(f"cannot run {self.nbctl}: {exc}") from None
        if proc.returncode < 0:
            # --timeout makes ovn-nbctl kill itself with SIGALRM.
            raise BackendError(
                f"ovn-nbctl died of signal {-proc.returncode} "
                f"(timeout {self.timeout} s?; outcome unknown): {proc.stderr.strip()}"
            )
        if proc.returncode != 0:
            raise BackendError(f"ovn-nbctl failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def _program(self) -> str:
        """The program name ovn-nbctl puts before its messages."""
        return os.path.basename(self.nbctl) or "ovn-nbctl"

    def _run_in_daemon(
        self,
        socket_path: str,
        commands: Sequence[Command],
        *,
        json_output: bool,
        read_only: bool = False,
    ) -> str:
        """One invocation as the daemon's unixctl ``run`` request; its output.

        The request is the one the stock client sends (see the module
        docstring), written by this module: no process and no argv, so no
        size limit. Errors read like the subprocess path's.
        """
        params = ["--format=json"] if json_output else []
        for cmd in commands:
            params += ["--", *cmd]
        self._rpc_id += 1
        rpc_id = self._rpc_id
        try:
            request = json.dumps(
                {"method": "run", "params": params, "id": rpc_id},
                ensure_ascii=True,
                separators=(",", ":"),
            ).encode("ascii")
        except (TypeError, ValueError) as exc:
            raise BackendError(f"cannot encode the ovn-nbctl daemon request: {exc}") from None
        self._invocations += 1
        prog = self._program()
        path = _unixctl_path(socket_path)
        deadline = time.monotonic() + self.timeout
        stage = "connecting"
        reply: Any = None
        try:
            if read_only:
                reply = self._read_request(socket_path, path, request, deadline)
            else:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    self._connect(sock, socket_path, path)
                    stage = "sending the request"
                    sock.settimeout(max(0.001, deadline - time.monotonic()))
                    sock.sendall(request)
                    stage = "waiting for the reply"
                    reply = self._recv_reply(sock, deadline)
        except TimeoutError:
            raise BackendError(
                f"the ovn-nbctl daemon at {socket_path} gave no answer within "
                f"{self.timeout} s (while {stage}; outcome unknown)"
            ) from None
        except OSError as exc:
            raise BackendError(
                f"ovn-nbctl failed (1): {prog}: {socket_path}: transaction error "
                f"({exc.strerror or exc}; outcome unknown)"
            ) from None
        if not isinstance(reply, dict) or reply.get("id") != rpc_id:
            raise BackendError(f"unexpected reply from the ovn-nbctl daemon: {str(reply)[:200]!r}")
        error = reply.get("error")
        if error is not None:
            text = error if isinstance(error, str) else json.dumps(error)
            # The stock client prints "<prog>: <error>" and exits with 1.
            raise BackendError(f"ovn-nbctl failed (1): {f'{prog}: {text}'.strip()}")
        result = reply.get("result")
        if not isinstance(result, str):
            raise BackendError(f"unexpected reply from the ovn-nbctl daemon: {str(reply)[:200]!r}")
        return result

    def _connect(self, sock: socket.socket, socket_path: str, path: str) -> None:
        sock.settimeout(self.timeout)
        try:
            _connect_unix(sock, path)
        except OSError as exc:
            prog = self._program()
            raise BackendError(
                f"ovn-nbctl failed (1): {prog}: {socket_path}: could not connect to "
                f"{prog} daemon ({os.strerror(exc.errno) if exc.errno else exc}); "
                "unset OVN_NB_DAEMON to avoid using daemon"
            ) from None

    def _read_request(self, socket_path: str, path: str, request: bytes, deadline: float) -> Any:
        """Send a read-only request on the connection kept for reads; its reply.

        A request's reads are many small ones: one connection for all of them
        saves a connect per read. A read is safe to repeat, so a connection the
        daemon closed in between is replaced once.
        """
        for attempt in (0, 1):
            sock = self._read_sock
            if sock is None or self._read_sock_path != socket_path:
                self._close_read_sock()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    self._connect(sock, socket_path, path)
                except BaseException:
                    sock.close()
                    raise
                self._read_sock, self._read_sock_path = sock, socket_path
            try:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                sock.sendall(request)
                return self._recv_reply(sock, deadline)
            except TimeoutError:
                self._close_read_sock()
                raise
            except OSError:
                self._close_read_sock()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _close_read_sock(self) -> None:
        sock, self._read_sock = self._read_sock, None
        if sock is not None:
            sock.close()

    @staticmethod
    def _recv_reply(sock: socket.socket, deadline: float) -> Any:
        """Read one JSON-RPC message (a JSON object, no framing) from ``sock``."""
        buf = bytearray()
        while True:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            chunk = sock.recv(_RECV_SIZE)
            if not chunk:
                raise OSError(0, "End of file" if buf else "connection closed")
            buf += chunk
            # A message ends with "}": only then can the buffer parse (a "}"
            # inside a string fails to parse, and we read on).
            if buf.rstrip().endswith(b"}"):
                try:
                    return json.loads(buf.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise BackendError(
                        f"cannot decode the ovn-nbctl daemon's reply: {exc}"
                    ) from None
                except ValueError:
                    continue

    def invocation_count(self) -> int:
        """How many times ovn-nbctl was invoked (reads included).

        Processes run plus ``run`` requests sent to a daemon.
        """
        return self._invocations

    # -- Backend protocol --------------------------------------------------------

    def reader(self) -> NbctlReader:
        """A read view whose lookups are targeted reads (see :class:`NbctlReader`)."""
        return NbctlReader(self)

    def transaction_count(self) -> int:
        """Write invocations that succeeded (see the module docstring)."""
        return self._txns

    def commit(self, plan: Plan, basis: LbRowSet | None = None) -> None:
        """Apply ``plan`` in one ovn-nbctl invocation (see the module docstring).

        Raises :class:`TryAgain` when the basis differs from the database
        (checked by a read before the write, when ``check_basis``), when a row
        the plan updates or deletes is gone, or when a row it inserts exists
        already; :class:`BackendError` for anything else.
        """
        if plan.is_empty():
            return
        cmds, touched = _plan_commands(plan)  # validates every value before anything runs
        if basis is not None and self.check_basis:
            self._check_basis(basis)
        self._write(cmds, touched)

    def apply_raw(self, ops: Sequence[rawops.RawOp]) -> None:
        """Apply Neutron-style raw operations in one write invocation (whole-column writes).

        Names are resolved against a :meth:`reader` snapshot first (one read).
        """
        if not ops:
            return
        try:
            resolved = rawops.resolve(self.reader(), ops)
        except rawops.RawOpError as exc:
            raise BackendError(str(exc)) from exc
        cmds = _raw_commands(resolved)
        if cmds:
            self._write(cmds, set())

    def _write(self, cmds: Sequence[Command], touched: set[str]) -> None:
        try:
            self._run(cmds)
        except BackendError as exc:
            text = str(exc)
            if "duplicate uuid" in text:
                raise TryAgain(f"row inserted already: {text}") from None
            m = _NO_ROW_RE.search(text)
            if m is not None and m.group(1) in touched:
                raise TryAgain(f"{m.group(2)} row {m.group(1)} is gone: {text}") from None
            raise
        self._txns += 1

    # -- basis check ---------------------------------------------------------------

    def _check_basis(self, basis: LbRowSet) -> None:
        """TryAgain when the database no longer holds what the plan was computed from.

        One read-only invocation: the basis's rows by UUID and, per load
        balancer row, the switches and routers holding it.
        """
        cmds: list[Command] = []
        tables: list[str] = []
        for table, uuids in (
            (_LB, sorted(basis.lbs)),
            (_HC, sorted(basis.health_checks)),
            ("NAT", sorted(basis.nats)),
        ):
            if uuids:
                cmds.append(_list_cmd(table, uuids, if_exists=True))
                tables.append(table)
        holder_keys: list[tuple[str, str]] = []
        for table, holders in (
            ("Logical_Switch", basis.switches),
            ("Logical_Router", basis.routers),
        ):
            for u in sorted(set(basis.lbs) | set(holders)):
                lb = _uuid(u, "basis Load_Balancer")
                # Names only: a busy switch's load_balancer set can be huge.
                condition = f"load_balancer{{>=}}{lb}"
                cmds.append(["--columns=_uuid,name", "find", table, condition])
                tables.append(table)
                holder_keys.append((table, u))
        if not cmds:
            return
        parsed = _parse_tables(self._run(cmds, json_output=True, read_only=True), tables)
        rows: dict[str, dict[str, dict[str, Any]]] = {}
        found: list[dict[str, dict[str, Any]]] = []
        for table, got in parsed:
            if table in (_LB, _HC, "NAT"):
                rows[table] = got
            else:
                found.append(got)
        lbs, hcs, nats = (rows.get(t, {}) for t in (_LB, _HC, "NAT"))
        for u, lb_basis in basis.lbs.items():
            row = lbs.get(u)
            if row is None or LoadBalancerRow(uuid=u, **row) != lb_basis:
                raise TryAgain(f"Load_Balancer row {u} changed since it was read")
        for u, hc_basis in basis.health_checks.items():
            row = hcs.get(u)
            if row is None or HealthCheckRow(uuid=u, **row) != hc_basis:
                raise TryAgain(f"{_HC} row {u} changed since it was read")
        for (table, u), got in zip(holder_keys, found, strict=True):
            names = {r["name"] for r in got.values()}
            want = (basis.switches if table == "Logical_Switch" else basis.routers).get(u)
            if names != set(want or ()):
                raise TryAgain(f"{table} attachments of {u} changed since they were read")
        for u, nat in basis.nats.items():
            row = nats.get(u)
            if row is None or NatColumns(u, row["logical_port"], row["external_mac"]) != nat:
                raise TryAgain(f"NAT row {u} changed since it was read")
