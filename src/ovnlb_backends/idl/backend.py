"""Everything about the IDL backend's connection and event loop lives here.

:class:`IdlBackend` connects (schema fetch, column checks, reconnect backoff,
the connect-time garbage collection), runs the IDL until a condition holds,
offers listeners and the OVSDB lock to watchers, and executes the
transactions :class:`~ovnlb_backends.idl.commit.PlanWriter` builds, turning
TRY_AGAIN into :class:`~ovnlb_backends.base.TryAgain` once resynced.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

import ovs.db.idl
import ovs.poller
import ovs.stream

from ovnlb_backends.base import BackendError, TryAgain
from ovnlb_backends.idl.commit import PersistUuidTransaction, PlanWriter
from ovnlb_backends.idl.connection import fetch_schema, split_remotes
from ovnlb_backends.idl.reader import IdlReader
from ovnlb_backends.idl.replica import IndexedIdl
from ovnlb_core import rawops
from ovnlb_core.nb import SCHEMA
from ovnlb_core.plan import (
    LbRowSet,
    Plan,
)

__all__ = ["IdlBackend"]


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
        remotes = split_remotes(remote)
        if not remotes:
            raise BackendError("empty OVSDB remote")
        deadline = time.monotonic() + timeout
        helper = ovs.db.idl.SchemaHelper(schema_json=fetch_schema(remotes, deadline))
        server_tables = helper.schema_json.get("tables", {})
        for table, columns in SCHEMA.items():
            missing = sorted(set(columns) - set(server_tables.get(table, {}).get("columns", {})))
            if table not in server_tables or missing:
                raise BackendError(f"NB schema lacks {table} {', '.join(missing)}".rstrip())
            helper.register_columns(table, list(columns))
        self._idl = IndexedIdl(",".join(remotes), helper, leader_only=leader_only)
        self._writer = PlanWriter(self._idl)
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
        # Then every object alive now (the replica above all) goes to the permanent
        # generation: later full collections skip it (with 10k ports one took 0.3 s,
        # every few batch updates; frozen, 10-30 ms). Frozen objects are still freed
        # by reference counting (a deleted row goes as before); only a reference cycle
        # among them would wait for close(), which unfreezes everything. A replica
        # reloaded by a reconnect is not frozen again (no collection inside a request).
        gc.freeze()

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

    def schema_version(self) -> str | None:
        """The NB schema version the server announced (the IDL keeps it as ``_db``)."""
        version = self._idl._db.version
        return str(version) if version else None

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
        """Close the connection; the backend is unusable afterwards.

        Unfreezes the objects frozen at connect time (see ``__init__``): the next
        full collection may reclaim what this replica leaves behind.
        """
        self._idl.close()
        gc.unfreeze()

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
            self._writer.check_basis(basis)
        txn = PersistUuidTransaction(self._idl)
        try:
            self._writer.build_plan(txn, plan)
        except BaseException:
            txn.abort()
            raise
        self._execute(txn)

    def apply_raw(self, ops: Sequence[rawops.RawOp]) -> None:
        """Apply Neutron-style raw operations in one transaction (whole-column writes)."""
        resolved = rawops.resolve(self.reader(), ops)
        if not resolved:
            return
        txn = PersistUuidTransaction(self._idl)
        try:
            for op in resolved:
                if isinstance(op, rawops.RowInsert):
                    self._writer.insert(txn, op.table, op.uuid, op.columns)
                elif isinstance(op, rawops.RowUpdate):
                    row = self._writer.existing(op.table, op.uuid, stale_is_retry=False)
                    for col, value in op.columns.items():
                        self._writer.assign(row, op.table, col, value)
                else:
                    row = self._writer.existing(op.table, op.uuid, stale_is_retry=False)
                    self._writer.delete(txn, row, op.table, op.uuid)
        except BaseException:
            txn.abort()
            raise
        self._execute(txn)

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
