"""Watch NB and SB and keep the load balancers in step with them (the driver agent's job).

:class:`Watcher` holds two ovs IDL connections: the NB one of an
:class:`~ovnlb_backends.idl.IdlBackend` (reads and writes), and its own SB
``ovs.db.idl.Idl`` that registers ``Service_Monitor`` only. As rows change
it turns each change into actions with :mod:`ovnlb_core.events` and applies
each action as one NB transaction (re-read, re-plan, retry on TRY_AGAIN):

* router interfaces (``Logical_Router_Port``, router-type ``Logical_Switch_Port``)
  added, removed or changed -> router/switch associations (spec 3.6, no B33);
* FIP ``NAT`` rows of VIP ports -> ``neutron:vip_fip`` / additional FIPs,
  ``vips`` and health-check copies (spec 6.2, no B31/B32);
* FIP ``NAT`` rows of member ports -> DVR centralisation (spec 6.4, no B19/B20);
* SB ``Service_Monitor`` created/changed/deleted -> member status and the
  roll-up (spec 4.4/4.5, no B16-B18), reported to ``on_status``.

**One actor.** Every watcher asks the NB server for the OVSDB lock
``ovnlb_watch`` (``Idl.set_lock``) and acts only while ``has_lock``; its
transactions carry the IDL's ``assert`` of the lock, so a watcher that lost
the lock cannot write. Others keep their replicas up to date and drop
events; when one gets the lock it catches up.

**Catch-up.** On start, on getting the lock and after a reconnection, the
watcher reconciles every load balancer with the current router ports and
VIP/member NAT rows, and every Service_Monitor row with the member statuses
(a status report is sent only when a row changed). Events are level based,
so the catch-up gives what the missed events would have given.

Not thread-safe: drive one watcher from one thread (:meth:`Watcher.step`,
:meth:`Watcher.run`, :meth:`Watcher.run_until`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream

from ovnlb_backends.base import BackendError
from ovnlb_backends.idl import IdlBackend, fetch_schema, split_remotes
from ovnlb_backends.service.actions import apply_action
from ovnlb_core import events as ev
from ovnlb_core.errors import OvnlbError
from ovnlb_core.nb import SCHEMA, Column
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.rows import lb_names
from ovnlb_core.status import Payload
from ovnlb_core.topology import Subnet

__all__ = ["LOCK_NAME", "Applied", "Watcher"]

log = logging.getLogger(__name__)

LOCK_NAME: Final = "ovnlb_watch"
SB_DB: Final = "OVN_Southbound"
SM_COLUMNS: Final = ("ip", "port", "protocol", "logical_port", "src_ip", "status")

StatusCallback = Callable[[Payload], None]


def _canonical(datum: Any, spec: Column) -> Any:
    """An ovs Datum in the canonical form of :mod:`ovnlb_core.nb`."""
    values = datum.values
    if spec.kind == "map":
        return {k.value: v.value for k, v in values.items()}
    items = sorted(str(k.value) if spec.atom == "uuid" else k.value for k in values)
    if spec.kind == "set":
        return tuple(items)
    if spec.kind == "optional":
        return items[0] if items else None
    return items[0] if items else spec.default()


def _nb_row(table: str, data: Mapping[str, Any]) -> dict[str, Any]:
    cols = SCHEMA[table]
    return {c: _canonical(d, cols[c]) for c, d in data.items() if c in cols}


def _sb_row(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c, d in data.items():
        values = [k.value for k in d.values]
        if c in ("protocol", "status"):
            out[c] = values[0] if values else None
        elif c in SM_COLUMNS:
            out[c] = values[0] if values else ("" if c != "port" else 0)
    return out


def _change(kind: str, row: Any, updates: Any, convert: Callable[[Any], dict[str, Any]]) -> Any:
    """(old, new) canonical rows of an IDL notification."""
    if kind == ovs.db.idl.ROW_CREATE:
        return None, convert(row._data)
    if kind == ovs.db.idl.ROW_DELETE:
        return convert(row._data), None
    new = convert(row._data)
    old = dict(new)
    if updates is not None and getattr(updates, "_data", None):
        old.update(convert(updates._data))
    return old, new


class _SbIdl(ovs.db.idl.Idl):  # type: ignore[misc]
    """An SB replica of ``Service_Monitor`` that queues its row changes."""

    def __init__(self, remote: str, helper: Any) -> None:
        self.changes: list[ev.RowChange] = []
        #: Bumped on every (re)connection (see Watcher._act).
        self.generation = 0
        super().__init__(remote, helper, leader_only=False)

    def restart_fsm(self) -> None:
        self.generation += 1
        super().restart_fsm()

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        if row._table.name != "Service_Monitor":
            return
        old, new = _change(event, row, updates, _sb_row)
        self.changes.append(ev.RowChange("Service_Monitor", str(row.uuid), old, new))


class Applied:
    """One action the watcher applied: kind, load balancer, whether rows changed, statuses."""

    __slots__ = ("changed", "kind", "lb_id", "statuses")

    def __init__(self, kind: str, lb_id: str, changed: bool, statuses: Sequence[Payload]) -> None:
        self.kind = kind
        self.lb_id = lb_id
        self.changed = changed
        self.statuses = list(statuses)

    def __repr__(self) -> str:
        return f"Applied({self.kind}, {self.lb_id}, changed={self.changed})"


class Watcher:
    """Apply router-interface, floating-IP and Service_Monitor events to the load balancers.

    ``on_status`` receives every Octavia status payload (member health
    roll-ups). ``subnets`` (Neutron subnets, optional) and ``view``
    (Octavia's view, optional: admin states of the roll-up) are what the
    requests may consult. ``backend`` may be given (an :class:`IdlBackend`
    used by nobody else); otherwise one is opened on ``nb_remote``.
    """

    def __init__(
        self,
        nb_remote: str,
        sb_remote: str,
        *,
        on_status: StatusCallback | None = None,
        subnets: Mapping[str, Subnet] | None = None,
        view: OctaviaView | None = None,
        lock_name: str = LOCK_NAME,
        timeout: float = 30.0,
        ssl_key: str | None = None,
        ssl_cert: str | None = None,
        ssl_ca: str | None = None,
        max_attempts: int = 10,
    ) -> None:
        self.on_status = on_status
        self.subnets: Mapping[str, Subnet] = dict(subnets or {})
        self.view = view if view is not None else OctaviaView()
        self.max_attempts = max_attempts
        self.applied: list[Applied] = []
        self.catch_ups = 0
        self._nb_changes: list[ev.RowChange] = []
        self._need_catch_up = True
        self._generations = (-1, -1)
        self.backend = IdlBackend(
            nb_remote, timeout=timeout, ssl_key=ssl_key, ssl_cert=ssl_cert, ssl_ca=ssl_ca
        )
        try:
            self._nb = self.backend
            self._nb.add_listener(self._nb_notify)
            self._nb.set_lock(lock_name)
            schema = fetch_schema(split_remotes(sb_remote), time.monotonic() + timeout, SB_DB)
            helper = ovs.db.idl.SchemaHelper(schema_json=schema)
            helper.register_columns("Service_Monitor", list(SM_COLUMNS))
            self._sb = _SbIdl(sb_remote, helper)
        except BaseException:
            self.backend.close()
            raise
        deadline = time.monotonic() + timeout
        while not self._sb_synced():
            if time.monotonic() >= deadline:
                self.close()
                raise BackendError(f"no SB replica from {sb_remote} within {timeout} s")
            self._poll(0.1)

    # -- state ---------------------------------------------------------------------

    @property
    def has_lock(self) -> bool:
        """True while this watcher holds the OVSDB lock (and so may act)."""
        return bool(self._nb.has_lock)

    @property
    def pending(self) -> int:
        """Row changes received and not processed yet."""
        return len(self._nb_changes) + len(self._sb.changes)

    def service_monitors(self) -> list[dict[str, Any]]:
        """The SB ``Service_Monitor`` rows of the replica, as ``catch_up`` reads them.

        Each row holds the columns of ``SM_COLUMNS`` (``protocol`` and ``status``
        None when empty), sorted by (ip, port, logical_port).
        """
        monitors = [_sb_row(r._data) for r in self._sb.tables["Service_Monitor"].rows.values()]
        monitors.sort(key=lambda m: (m["ip"], m["port"], m["logical_port"]))
        return monitors

    def _sb_synced(self) -> bool:
        session = getattr(self._sb, "_session", None)
        live = session is None or bool(session.is_connected())
        return live and bool(self._sb.state == self._sb.IDL_S_MONITORING)

    def _nb_notify(self, event: str, row: Any, updates: Any) -> None:
        table = row._table.name
        if table not in ev.NB_TABLES:
            return
        old, new = _change(event, row, updates, lambda d: _nb_row(table, d))
        self._nb_changes.append(ev.RowChange(table, str(row.uuid), old, new))

    # -- event loop ----------------------------------------------------------------

    def _poll(self, timeout: float) -> None:
        self._nb.run()
        self._sb.run()
        poller = ovs.poller.Poller()
        self._nb.wait(poller)
        self._sb.wait(poller)
        poller.timer_wait(max(0, int(timeout * 1000)))
        poller.block()
        self._nb.run()
        self._sb.run()

    def step(self, timeout: float = 0.0) -> None:
        """Take in updates, act on them (while holding the lock), then wait up to ``timeout`` s
        for more activity."""
        self._nb.run()
        self._sb.run()
        self._act()
        if timeout > 0:
            self._poll(timeout)
            self._act()

    def _act(self) -> None:
        # A reconnect can start and finish within one run(), unseen by connected(): a
        # changed connection generation still means events may have been missed.
        generations = (self.backend.connection_generation, self._sb.generation)
        if generations != self._generations:
            self._generations = generations
            self._need_catch_up = True
        if not (self.backend.connected() and self._sb_synced() and self.has_lock):
            # Events seen now may never be acted on: catch up once able to act.
            self._nb_changes.clear()
            self._sb.changes.clear()
            self._need_catch_up = True
            return
        if self._need_catch_up:
            self._nb_changes.clear()
            self._sb.changes.clear()
            self._need_catch_up = False
            self.catch_up()
            return
        while self._nb_changes or self._sb.changes:
            nb, self._nb_changes = self._nb_changes, []
            sb, self._sb.changes = self._sb.changes, []
            reader = self.backend.reader()
            actions: list[ev.LbAction] = []
            for change in nb:
                actions += ev.nb_actions(reader, change)
            for change in sb:
                actions += ev.sb_actions(reader, change)
            self._apply_all(ev.dedupe(actions))

    def run(self, stop: Callable[[], bool] | None = None, tick: float = 1.0) -> None:
        """Watch until ``stop()`` is true (forever without it)."""
        while stop is None or not stop():
            self.step(tick)

    def run_until(self, done: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Step until ``done()`` (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        while True:
            self.step(0)
            if done():
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            self._poll(min(0.05, deadline - now))

    def wait_for_lock(self, timeout: float = 10.0) -> bool:
        """Run until this watcher holds the lock (False after ``timeout`` seconds)."""
        return self.run_until(lambda: self.has_lock, timeout)

    # -- acting --------------------------------------------------------------------

    def catch_up(self) -> None:
        """Reconcile every load balancer with the topology, NAT and Service_Monitor rows."""
        self.catch_ups += 1
        reader = self.backend.reader()
        monitors = [_sb_row(r._data) for r in self._sb.tables["Service_Monitor"].rows.values()]
        monitors.sort(key=lambda m: (m["ip"], m["port"], m["logical_port"]))
        self._apply_all(ev.catch_up_actions(reader, list(lb_names(reader)), monitors))

    def _apply_all(self, actions: Sequence[ev.LbAction]) -> None:
        for action in actions:
            try:
                self._apply(action)
            except BackendError:  # first: BackendError is an OvnlbError too
                log.exception("%s event for load balancer %s failed", action.kind, action.lb_id)
                self._need_catch_up = True
                return
            except OvnlbError:
                log.exception("%s event for load balancer %s failed", action.kind, action.lb_id)

    def _apply(self, action: ev.LbAction) -> None:
        # The same application as the replayer's (ovnlb_backends.service.actions), under the lock.
        result = apply_action(
            self.backend,
            action,
            self.subnets,
            self.view,
            max_attempts=self.max_attempts,
            may_write=lambda: self.has_lock,
        )
        self.applied.append(Applied(action.kind, action.lb_id, result.changed, result.statuses))
        for payload in result.statuses:
            self._report(payload)

    def _report(self, payload: Payload) -> None:
        if self.on_status is None:
            return
        try:
            self.on_status(payload)
        except Exception:
            log.exception("status callback failed")

    def close(self) -> None:
        """Close both connections (releases the lock)."""
        self._sb.close()
        self.backend.close()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
