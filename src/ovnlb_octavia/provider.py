"""The ``octavia.api.drivers`` entry point ``ovnlb``: :class:`OvnLbProviderDriver`.

One method per Octavia call, each saying only what is particular to it:
which load balancer, what to run on the driver, which Neutron ports to make
or clean up around it, and what to report if it fails. How a call is taken
through its two steps (a dry run in the API request, the write after
Octavia committed) lives in :mod:`ovnlb_octavia.calls`; the ports in
:mod:`ovnlb_octavia.ports`; the status reports in
:mod:`ovnlb_octavia.reports`; the process's runtime in
:mod:`ovnlb_octavia.runtime` (built by :mod:`ovnlb_octavia.wiring`).

Octavia answers 501 for what the base class leaves unimplemented: L7
policies and rules, flavors, availability zones and failover with a flavor,
as the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.api.drivers import provider_base

from ovnlb_backends.service.driver import OvnLbDriver, lb_of_pool
from ovnlb_core import octavia as oc
from ovnlb_core import requests as rq
from ovnlb_core.status import ACTIVE, ERROR, Payload, entry
from ovnlb_octavia import neutron as nt
from ovnlb_octavia.calls import Call, Calls, RunFn, fault, octavia_error
from ovnlb_octavia.ports import Ports
from ovnlb_octavia.reports import driver_library, failed_create, failed_under_pool, last_wins
from ovnlb_octavia.runtime import Replica, Runtime, process_runtime
from ovnlb_octavia.wiring import default_runtime

__all__ = ["OvnLbProviderDriver", "driver_library", "octavia_error"]


def _plain(obj: Any) -> dict[str, Any]:
    """octavia-lib object or dict -> dict without Unset values."""
    return dict(oc.as_dict(obj))


def _merged(old: Any, new: Any) -> dict[str, Any]:
    """An update's object as it will be (``new`` carries only the changed fields)."""
    return {**_plain(old), **_plain(new)}


class OvnLbProviderDriver(provider_base.ProviderDriver):  # type: ignore[misc]
    """Octavia's provider driver ``ovnlb`` (see the module docstring)."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        super().__init__()
        self.runtime = runtime if runtime is not None else process_runtime(default_runtime)
        self.ports = Ports(self.runtime)
        self.calls = Calls(self.runtime, self.ports)

    # -- load balancer -------------------------------------------------------------------

    def create_vip_port(
        self,
        loadbalancer_id: str,
        project_id: str | None,
        vip_dictionary: dict[str, Any],
        additional_vip_dicts: Sequence[Mapping[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Create the VIP port (and additional VIP ports) in Neutron, as the reference does."""
        try:
            return self.ports.create_vip_ports(
                loadbalancer_id, project_id, vip_dictionary, additional_vip_dicts or ()
            )
        except nt.NeutronError as e:
            raise octavia_error(e) from e

    def loadbalancer_create(self, loadbalancer: Any) -> None:
        """Create the LB and, for a fully populated create, its listeners, pools, members, HMs."""
        data = _plain(loadbalancer)
        lb = oc.LoadBalancer.from_dict(data)
        # Members of a fully populated create without a subnet are on the VIP subnet.
        for p in data.get("pools") or ():
            for m in p.get("members") or ():
                if not m.get("subnet_id") and lb.vip_subnet_id:
                    m["subnet_id"] = lb.vip_subnet_id
        full = oc.LoadBalancer.from_dict(data)
        member_subnets = [m.subnet_id for p in full.pools for m in p.members if p.healthmonitor]

        def before(backend: Replica, _lb: str) -> None:
            self.runtime.subnets.fetch(
                [lb.vip_subnet_id, *(m.subnet_id for p in full.pools for m in p.members)]
            )
            self.ports.ensure_hm_ports(backend, member_subnets)

        if lb.vip_subnet_id:
            self.runtime.vip_subnets[lb.id] = lb.vip_subnet_id
        self.calls.submit(
            Call(
                lambda _b: lb.id,
                lambda d: [_populated_create(d, full)],
                lambda _lb: failed_create(full),
                created=("loadbalancer", lb.id),
                before=before,
                vip_subnet=lb.vip_subnet_id,
            )
        )

    def loadbalancer_update(self, old_loadbalancer: Any, new_loadbalancer: Any) -> None:
        """Admin state changes."""
        lb_id = str(_plain(old_loadbalancer).get("loadbalancer_id"))
        self.calls.submit(
            Call(
                lambda _b: lb_id,
                lambda d: d.lb_update(old_loadbalancer, new_loadbalancer),
                lambda _lb: {"loadbalancers": [entry(lb_id, ERROR)]},
            )
        )

    def loadbalancer_delete(self, loadbalancer: Any, cascade: bool = False) -> None:
        """Delete the LB (cascade: with everything under it); its VIP ports and unused HM ports."""
        lb_id = str(_plain(loadbalancer).get("loadbalancer_id"))
        subnets: list[str] = []

        def before(backend: Replica, _lb: str) -> None:
            subnets[:] = self.ports.lb_subnets(backend, lb_id)

        def after(backend: Replica) -> None:
            nt.delete_vip_ports(self.runtime.network, lb_id)
            self.ports.cleanup_hm_ports(backend, subnets)
            self.runtime.vip_subnets.pop(lb_id, None)

        self.calls.submit(
            Call(
                lambda _b: lb_id,
                lambda d: d.lb_delete(loadbalancer, cascade),
                lambda _lb: {"loadbalancers": [entry(lb_id, ERROR)]},
                before=before,
                after=after,
            )
        )

    def loadbalancer_failover(self, loadbalancer_id: str) -> None:
        """Refused: OVN load balancers have nothing to fail over."""
        raise fault(
            lib_exc.UnsupportedOptionError, "OVN provider (ovnlb) does not support failover"
        )

    # -- listener ------------------------------------------------------------------------

    def listener_create(self, listener: Any) -> None:
        """A listener (TCP, UDP or SCTP; ``allowed_cidrs`` refused)."""
        self._in_lb("listener", listener, lambda d: d.listener_create(listener), created=True)

    def listener_update(self, old_listener: Any, new_listener: Any) -> None:
        """Admin state, default pool."""
        merged = _merged(old_listener, new_listener)
        self._in_lb("listener", merged, lambda d: d.listener_update(old_listener, new_listener))

    def listener_delete(self, listener: Any) -> None:
        """Delete a listener."""
        self._in_lb("listener", listener, lambda d: d.listener_delete(listener))

    # -- pool ----------------------------------------------------------------------------

    def pool_create(self, pool: Any) -> None:
        """A pool (SOURCE_IP_PORT or SOURCE_IP; session persistence SOURCE_IP only)."""
        self._in_lb("pool", pool, lambda d: d.pool_create(pool), created=True)

    def pool_update(self, old_pool: Any, new_pool: Any) -> None:
        """Admin state, algorithm, session persistence."""
        self._in_lb(
            "pool", _merged(old_pool, new_pool), lambda d: d.pool_update(old_pool, new_pool)
        )

    def pool_delete(self, pool: Any) -> None:
        """Delete a pool with its members and health monitor."""
        subnets = [m.get("subnet_id") for m in _plain(pool).get("members") or ()]
        self._in_lb(
            "pool",
            pool,
            lambda d: d.pool_delete(pool),
            after=lambda backend: self.ports.cleanup_hm_ports(backend, subnets),
        )

    def _in_lb(
        self,
        kind: str,
        obj: Any,
        run: RunFn,
        *,
        created: bool = False,
        after: Callable[[Replica], None] | None = None,
    ) -> None:
        """A listener or pool call: the request names its load balancer."""
        data = _plain(obj)
        oid, lb_id = str(data.get(f"{kind}_id")), str(data.get("loadbalancer_id"))

        def on_error(_lb: str | None) -> Payload:
            if kind == "listener":
                return {"listeners": [entry(oid, ERROR)], "loadbalancers": [entry(lb_id, ACTIVE)]}
            return failed_under_pool(self.runtime, oid, lb_id, "pools", [oid])

        self.calls.submit(
            Call(
                lambda _b: lb_id,
                run,
                on_error,
                created=(kind, oid) if created else None,
                after=after,
            )
        )

    # -- members -------------------------------------------------------------------------

    def member_create(self, member: Any) -> None:
        """A member (``monitor_address``/``monitor_port`` refused)."""
        data = _plain(member)
        self._members(
            str(data.get("pool_id")),
            [data],
            lambda d: d.member_create(member),
            created=("member", str(data.get("member_id"))),
            adding=True,
        )

    def member_update(self, old_member: Any, new_member: Any) -> None:
        """Admin state (and what OVN ignores)."""
        merged = _merged(old_member, new_member)
        self._members(
            str(merged.get("pool_id")), [merged], lambda d: d.member_update(old_member, new_member)
        )

    def member_delete(self, member: Any) -> None:
        """Delete a member; its floating IP gets the reference's empty update (DVR)."""
        data = _plain(member)
        self._members(
            str(data.get("pool_id")), [data], lambda d: d.member_delete(member), removing=True
        )

    def member_batch_update(self, pool_id: str, members: Sequence[Any]) -> None:
        """Replace the pool's members with ``members`` in one transaction."""
        data = [_plain(m) for m in members]
        # Members that leave the pool are named by NB only: found in `before`.
        self._members(
            pool_id,
            data,
            lambda d: d.member_batch_update(pool_id, members),
            # Octavia lists new members first: the first one exists once it committed.
            created=("member", str(data[0].get("member_id"))) if data else None,
            adding=True,
        )

    def _members(
        self,
        pool_id: str,
        members: Sequence[Mapping[str, Any]],
        run: RunFn,
        *,
        created: tuple[str, str] | None = None,
        adding: bool = False,
        removing: bool = False,
    ) -> None:
        member_ids = [str(m.get("member_id")) for m in members]
        fips: list[str] = []
        removed_subnets: list[str | None] = [m.get("subnet_id") for m in members]

        def before(backend: Replica, lb_id: str) -> None:
            vip_subnet = self.ports.vip_subnet(backend, lb_id)
            subnets = [m.get("subnet_id") or vip_subnet for m in members]
            self.runtime.subnets.fetch(subnets)
            if adding and self.ports.pool_has_hm(backend, lb_id, pool_id):
                self.ports.ensure_hm_ports(backend, subnets)
            if removing:
                objs = [
                    oc.Member.from_dict({**m, "pool_id": pool_id})
                    for m in members
                    if "address" in m
                ]
                fips[:] = self.ports.member_fips(backend, lb_id, objs, vip_subnet)
                removed_subnets[:] = [m.subnet_id or vip_subnet for m in objs]

        def after(backend: Replica) -> None:
            if removing:
                self.ports.touch_floating_ips(fips)
                self.ports.cleanup_hm_ports(backend, removed_subnets)

        self.calls.submit(
            Call(
                lambda b: lb_of_pool(b.reader(), pool_id),
                run,
                lambda lb: failed_under_pool(self.runtime, pool_id, lb, "members", member_ids),
                created=created,
                before=before,
                after=after,
                members=frozenset(member_ids),
            )
        )

    # -- health monitors -------------------------------------------------------------------

    def health_monitor_create(self, healthmonitor: Any) -> None:
        """A TCP or UDP-CONNECT health monitor (its source port created when missing)."""
        self._hm(healthmonitor, lambda d: d.hm_create(healthmonitor), created=True)

    def health_monitor_update(self, old_healthmonitor: Any, new_healthmonitor: Any) -> None:
        """Timing and admin state."""
        merged = _merged(old_healthmonitor, new_healthmonitor)
        self._hm(merged, lambda d: d.hm_update(old_healthmonitor, new_healthmonitor))

    def health_monitor_delete(self, healthmonitor: Any) -> None:
        """Delete a health monitor (and its source port once unused)."""
        self._hm(healthmonitor, lambda d: d.hm_delete(healthmonitor), deleting=True)

    def _hm(self, obj: Any, run: RunFn, *, created: bool = False, deleting: bool = False) -> None:
        data = _plain(obj)
        hm_id, pool_id = str(data.get("healthmonitor_id")), str(data.get("pool_id"))
        subnets: list[str] = []

        def before(backend: Replica, lb_id: str) -> None:
            vip_subnet = self.ports.vip_subnet(backend, lb_id)
            subnets[:] = self.ports.pool_member_subnets(backend, lb_id, pool_id) or (
                [vip_subnet] if vip_subnet else []
            )
            self.runtime.subnets.fetch(subnets)
            if not deleting:
                self.ports.ensure_hm_ports(backend, subnets)

        def after(backend: Replica) -> None:
            if deleting:
                self.ports.cleanup_hm_ports(backend, subnets)

        self.calls.submit(
            Call(
                lambda b: lb_of_pool(b.reader(), pool_id),
                run,
                lambda lb: failed_under_pool(self.runtime, pool_id, lb, "healthmonitors", [hm_id]),
                created=("healthmonitor", hm_id) if created else None,
                before=before,
                after=after,
            )
        )


def _populated_create(d: OvnLbDriver, lb: oc.LoadBalancer) -> Payload:
    """A fully populated create as one transaction, with one merged report."""

    def fn(ctx: rq.Context, state: Any) -> rq.Outcome:
        outcomes = [rq.lb_create(ctx, state, lb)]
        state = outcomes[-1].state
        for li in lb.listeners:
            outcomes.append(rq.listener_create(ctx, state, li))
            state = outcomes[-1].state
        for pool in lb.pools:
            outcomes.append(rq.pool_create(ctx, state, pool))
            state = outcomes[-1].state
            for m in pool.members:
                outcomes.append(rq.member_create(ctx, state, m))
                state = outcomes[-1].state
            if pool.healthmonitor is not None:
                outcomes.append(rq.hm_create(ctx, state, pool.healthmonitor))
                state = outcomes[-1].state
        merged = rq.merge_payloads([p for o in outcomes for p in o.statuses])
        return rq.Outcome(
            state, (last_wins(merged),), tuple(n for o in outcomes for n in o.nat_updates)
        )

    return dict(d.run(lb.id, fn).statuses[0])
