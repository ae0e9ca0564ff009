"""Run Octavia requests against a backend: one straight path from a request to its commit.

:class:`OvnLbDriver` is the I/O shell around the pure core. A member create::

    OvnLbDriver.member_create(member)            validate the fields (octavia.py)
      -> _lb_of_pool(pool_id)                    which load balancer (Octavia's view, else an index)
      -> run(lb_id, fn)                          one transaction
         commit_with_retry(backend, plan, ...)   ovnlb_backends/base.py: the one retry loop
           plan_request_in(reader, lb_id, fn)    ovnlb_core/pipeline.py: read -> parse ->
                                                 requests.member_create -> translate -> diff
           backend.commit(plan, basis=actual)    TryAgain: back off, re-read, re-plan

so a transaction that did commit before the connection dropped plans to
nothing the second time.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs

from ovnlb_backends.base import BACKOFF, Backend, Reader, commit_with_retry
from ovnlb_core import events as ev
from ovnlb_core import octavia as oc
from ovnlb_core import requests as rq
from ovnlb_core import validate
from ovnlb_core.errors import NotFoundError, OvnlbError
from ovnlb_core.errors import RetriesExhausted as RetriesExhausted
from ovnlb_core.model import LoadBalancerState
from ovnlb_core.pipeline import Planned, RequestFn, plan_request_in
from ovnlb_core.rows import find_lb_of_pool
from ovnlb_core.status import Payload
from ovnlb_core.topology import Subnet
from ovnlb_core.translate import RowCache

__all__ = [
    "OvnLbDriver",
    "RetriesExhausted",
    "handle",
    "lb_of_pool",
]

#: A validated request object.
Obj = TypeVar("Obj", oc.LoadBalancer, oc.Listener, oc.Pool, oc.Member, oc.HealthMonitor)
State = LoadBalancerState | None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while one request runs (when it was enabled).

    A request on a pool of N members allocates O(N) containers that live on (the status
    reports, the new row's tuples): with the collector on, each 700 of them start a
    young-generation collection, and every tenth of those an older one, which traverse
    the request's objects again and again (~2 ms of a 10 ms member add at N = 10000).
    Paused, the request's objects are looked at once by the next collection after it.
    Nothing else changes: only cycles (which requests do not make) wait longer.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def lb_of_pool(reader: Reader, pool_id: str) -> str:
    """The load balancer whose rows hold ``pool_<id>`` (either admin form), by index."""
    name = find_lb_of_pool(reader, pool_id)
    if name is None:
        raise NotFoundError("pool", pool_id, "no Load_Balancer row holds it")
    return name


@attrs.define
class OvnLbDriver:
    """Octavia provider requests applied through a :class:`Backend`."""

    backend: Backend
    subnets: Mapping[str, Subnet] = attrs.field(factory=dict)
    view: oc.OctaviaView = attrs.field(factory=oc.OctaviaView)
    max_attempts: int = 10
    #: First retry waits up to this long (seconds), doubling per attempt
    #: (see :func:`~ovnlb_backends.base.commit_with_retry`).
    backoff: float = BACKOFF
    #: Parsed and translated long strings kept between requests (results are the same
    #: without it; see :class:`~ovnlb_core.translate.RowCache`).
    cache: RowCache = attrs.field(factory=RowCache, eq=False, repr=False)

    # -- the one path every request takes ----------------------------------------------

    def run(self, lb_id: str, fn: RequestFn) -> rq.Outcome:
        """Apply ``fn`` to load balancer ``lb_id`` in one transaction (retried on TryAgain)."""

        def plan(reader: Reader) -> Planned:
            return plan_request_in(reader, lb_id, fn, self.subnets, self.view, cache=self.cache)

        with _collector_paused():
            planned, _ = commit_with_retry(
                self.backend,
                plan,
                what=f"load balancer {lb_id}",
                max_attempts=self.max_attempts,
                backoff=self.backoff,
            )
        return planned.outcome

    def _lb_of_pool(self, pool_id: str | None) -> str:
        if pool_id is None:
            raise NotFoundError("pool", "?", "request names no pool")
        pool = self.view.pools.get(pool_id)
        if pool and pool.get("loadbalancer_id"):
            return str(pool["loadbalancer_id"])
        return lb_of_pool(self.backend.reader(), pool_id)

    # -- requests ---------------------------------------------------------------------------

    def lb_create(self, lb: Any) -> list[Payload]:
        """``loadbalancer_create``."""
        return self._one(oc.LoadBalancer, lb, rq.lb_create)

    def lb_update(self, old: Any, new: Any) -> list[Payload]:
        """``loadbalancer_update``."""
        return self._update(oc.LoadBalancer, old, new, rq.lb_update)

    def lb_delete(self, lb: Any, cascade: bool = False) -> list[Payload]:
        """``loadbalancer_delete``."""
        return self._one(oc.LoadBalancer, lb, lambda c, s, obj: rq.lb_delete(c, s, obj, cascade))

    def lb_failover(self, lb_id: str) -> list[Payload]:
        """``loadbalancer_failover``: always refused."""
        validate.failover(lb_id)
        return []

    def listener_create(self, listener: Any) -> list[Payload]:
        """``listener_create``."""
        return self._one(oc.Listener, listener, rq.listener_create)

    def listener_update(self, old: Any, new: Any) -> list[Payload]:
        """``listener_update``."""
        return self._update(oc.Listener, old, new, rq.listener_update)

    def listener_delete(self, listener: Any) -> list[Payload]:
        """``listener_delete``."""
        return self._one(oc.Listener, listener, rq.listener_delete)

    def pool_create(self, pool: Any) -> list[Payload]:
        """``pool_create``."""
        return self._one(oc.Pool, pool, rq.pool_create)

    def pool_update(self, old: Any, new: Any) -> list[Payload]:
        """``pool_update``."""
        return self._update(oc.Pool, old, new, rq.pool_update)

    def pool_delete(self, pool: Any) -> list[Payload]:
        """``pool_delete`` (its health monitor and members first)."""
        return self._one(oc.Pool, pool, rq.pool_delete)

    def member_create(self, member: Any) -> list[Payload]:
        """``member_create``."""
        return self._one(oc.Member, member, rq.member_create)

    def member_update(self, old: Any, new: Any) -> list[Payload]:
        """``member_update``."""
        return self._update(oc.Member, old, new, rq.member_update)

    def member_delete(self, member: Any) -> list[Payload]:
        """``member_delete``."""
        return self._one(oc.Member, member, rq.member_delete)

    def member_batch_update(self, pool_id: str, members: Sequence[Any]) -> list[Payload]:
        """``member_batch_update``: one transaction for the whole batch."""
        # The usual batch is read column by column, with no object per member (the same
        # Members and errors as the member-by-member path below).
        with _collector_paused():
            cols = oc.MemberColumns.of(members, pool_id)
        if cols is not None:
            return self._statuses(
                self._lb_of_pool(pool_id),
                lambda c, s: rq.member_batch_update_columns(c, s, pool_id, cols),
            )
        objs = [oc.Member.from_dict({**oc.as_dict(m), "pool_id": pool_id}) for m in members]
        return self._statuses(
            self._lb_of_pool(pool_id), lambda c, s: rq.member_batch_update(c, s, pool_id, objs)
        )

    def hm_create(self, hm: Any) -> list[Payload]:
        """``health_monitor_create``."""
        return self._one(oc.HealthMonitor, hm, rq.hm_create)

    def hm_update(self, old: Any, new: Any) -> list[Payload]:
        """``health_monitor_update``."""
        return self._update(oc.HealthMonitor, old, new, rq.hm_update)

    def hm_delete(self, hm: Any) -> list[Payload]:
        """``health_monitor_delete``."""
        return self._one(oc.HealthMonitor, hm, rq.hm_delete)

    def fip_associate(
        self, lb_id: str | None, fip: str, vip_kind: str | None, port_id: str, fixed_ip: str | None
    ) -> list[Payload]:
        """A floating IP associated with a VIP port (no status report)."""
        if lb_id is None:
            return []
        related = self._port_ips(port_id, fixed_ip)
        kind = vip_kind or "vip"
        self.run(lb_id, lambda c, s: rq.fip_associate(c, s, fip, kind, related))
        return []

    def fip_disassociate(self, lb_id: str | None, fip: str) -> list[Payload]:
        """A floating IP taken off a VIP port (no status report)."""
        if lb_id is None:
            return []
        self.run(lb_id, lambda c, s: rq.fip_disassociate(c, s, fip))
        return []

    def member_health(self, events: Sequence[Mapping[str, Any]]) -> list[Payload]:
        """SB ``Service_Monitor`` changes: one merged report per event that hit a member.

        The event's row is decoded by :func:`ovnlb_core.events.service_monitor_event`
        and applied as the watcher applies it (:func:`~ovnlb_core.events.member_health_actions`),
        one transaction per load balancer whose ``ip_port_mappings`` name the backend.
        """
        out: list[Payload] = []
        for event in events:
            deleted = event.get("type") == "delete"
            decoded = ev.service_monitor_event(event["row"], deleted)
            collected: list[Payload] = []
            for action in ev.member_health_actions(self.backend.reader(), decoded):
                collected += self.run(action.lb_id, action.fn).statuses
            if collected:
                out.append(rq.merge_payloads(collected))
        return out

    # -- helpers --------------------------------------------------------------------------

    def _one(
        self, cls: type[Obj], data: Any, request: Callable[[rq.Context, State, Obj], rq.Outcome]
    ) -> list[Payload]:
        """The shape of every create and delete: validate, find the LB, run ``request``."""
        obj = cls.from_dict(data)
        return self._statuses(self._lb_of(obj), lambda c, s: request(c, s, obj))

    def _update(
        self,
        cls: type[Obj],
        old: Any,
        new: Any,
        request: Callable[[rq.Context, State, oc.Update[Obj]], rq.Outcome],
    ) -> list[Payload]:
        """The shape of every update: validate the pair, find the LB, run ``request``."""
        upd: oc.Update[Obj] = oc.update_of(cls, old, new)
        return self._statuses(self._lb_of(upd.new), lambda c, s: request(c, s, upd))

    def _statuses(self, lb_id: str, fn: RequestFn) -> list[Payload]:
        return list(self.run(lb_id, fn).statuses)

    def _lb_of(
        self, obj: oc.LoadBalancer | oc.Listener | oc.Pool | oc.Member | oc.HealthMonitor
    ) -> str:
        """The load balancer a request object belongs to."""
        if isinstance(obj, oc.LoadBalancer):
            return obj.id
        if isinstance(obj, oc.Listener | oc.Pool):
            if obj.loadbalancer_id is None:
                raise NotFoundError("loadbalancer", "?", "request names no load balancer")
            return obj.loadbalancer_id
        return self._lb_of_pool(obj.pool_id)

    def _port_ips(self, port_id: str, fixed_ip: str | None) -> list[str]:
        ips = [fixed_ip] if fixed_ip else []
        for _u, lsp in self.backend.reader().by_name("Logical_Switch_Port", port_id):
            for entry in lsp.get("addresses", ()):
                for token in entry.split()[1:]:
                    if token not in ips:
                        ips.append(token)
        return ips


def handle(driver: OvnLbDriver, request: Mapping[str, Any]) -> list[Payload]:
    """Dispatch a conformance-style request (``{"op": ..., ...}``) to the driver."""
    op = request["op"]
    if op == "lb_create":
        return driver.lb_create(request["loadbalancer"])
    if op == "lb_delete":
        return driver.lb_delete(request["loadbalancer"], bool(request.get("cascade")))
    if op == "member_batch_update":
        return driver.member_batch_update(request["pool_id"], request["members"])
    if op == "fip_associate":
        return driver.fip_associate(
            request.get("loadbalancer_id"),
            request["floating_ip_address"],
            request.get("vip_kind"),
            request["port_id"],
            request.get("fixed_ip_address"),
        )
    if op == "fip_disassociate":
        return driver.fip_disassociate(
            request.get("loadbalancer_id"), request["floating_ip_address"]
        )
    if op == "member_health":
        return driver.member_health(request["events"])
    if op == "lb_failover":
        return driver.lb_failover(request["loadbalancer_id"])
    if op in _UPDATES:
        return list(_UPDATES[op](driver, request["old"], request["new"]))
    if op in _SINGLE:
        key, method = _SINGLE[op]
        return list(method(driver, request[key]))
    raise OvnlbError(f"unknown request {op!r}")


#: ``{"op": ...}`` of a one-object request -> (the request's key for the object, the method).
_SINGLE: dict[str, tuple[str, Callable[[OvnLbDriver, Any], list[Payload]]]] = {
    "listener_create": ("listener", OvnLbDriver.listener_create),
    "listener_delete": ("listener", OvnLbDriver.listener_delete),
    "pool_create": ("pool", OvnLbDriver.pool_create),
    "pool_delete": ("pool", OvnLbDriver.pool_delete),
    "member_create": ("member", OvnLbDriver.member_create),
    "member_delete": ("member", OvnLbDriver.member_delete),
    "hm_create": ("healthmonitor", OvnLbDriver.hm_create),
    "hm_delete": ("healthmonitor", OvnLbDriver.hm_delete),
}
#: ``{"op": ..., "old": ..., "new": ...}`` -> the method.
_UPDATES: dict[str, Callable[[OvnLbDriver, Any, Any], list[Payload]]] = {
    "lb_update": OvnLbDriver.lb_update,
    "listener_update": OvnLbDriver.listener_update,
    "pool_update": OvnLbDriver.pool_update,
    "member_update": OvnLbDriver.member_update,
    "hm_update": OvnLbDriver.hm_update,
}
