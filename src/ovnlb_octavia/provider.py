"""The ``octavia.api.drivers`` entry point ``ovnlb``: :class:`OvnLbProviderDriver`.

Every request takes two steps:

1. **In the API request** (before Octavia commits its transaction): the
   request is run against the current NB rows without writing (a dry run in
   the process's NB thread). A refusal raises octavia-lib's exception, so
   the API answers 501 (``UnsupportedOptionError``: what OVN cannot do),
   409 (``Conflict``) or 500 (``DriverError``) and rolls back: nothing is
   written anywhere and nothing is left PENDING.
2. **After Octavia committed** (queued to the NB thread): wait until Octavia
   shows a created object (so a rolled-back create writes nothing), make the
   Neutron ports the request needs, apply the request to NB in one
   transaction, clean up ports nothing uses any more, and queue the status
   reports to the driver agent. Any failure here (NB unreachable, Neutron
   down) reports the request's objects ERROR and their parents ACTIVE, so
   no object stays PENDING.

One :class:`~ovnlb_octavia.runtime.Runtime` per process holds the NB
connection and the two threads; provider objects (one per API request) are
cheap views of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.api.drivers import provider_base

from ovnlb_backends.base import Backend, BackendError, Reader
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_core import errors
from ovnlb_core import octavia as oc
from ovnlb_core import requests as rq
from ovnlb_core.parse import parse
from ovnlb_core.plan import LbRowSet, Plan
from ovnlb_core.rows import find_lb_of_pool, lb_rowset
from ovnlb_core.status import ACTIVE, DELETED, ERROR, Payload, entry
from ovnlb_core.topology import Topology
from ovnlb_octavia import neutron as nt
from ovnlb_octavia.runtime import Runtime, StatusSink, process_runtime

log = logging.getLogger(__name__)

RunFn = Callable[[OvnLbDriver], list[Payload]]


class _DryRun:
    """A backend that reads through and writes nothing (validation in the API request)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    def reader(self) -> Reader:
        return self.inner.reader()

    def commit(self, plan: Plan, basis: LbRowSet | None = None) -> None:
        """Nothing is sent."""

    def apply_raw(self, ops: Sequence[Any]) -> None:
        """Nothing is sent."""

    def transaction_count(self) -> int:
        return 0

    def close(self) -> None:
        """The real backend stays open."""


def _fault(cls: Any, message: str) -> Exception:
    err: Exception = cls(user_fault_string=message, operator_fault_string=message)
    return err


def octavia_error(e: BaseException) -> Exception:
    """The octavia-lib exception for an ovnlb failure (what the API answers)."""
    if isinstance(e, errors.UnsupportedOptionError):
        return _fault(lib_exc.UnsupportedOptionError, f"OVN provider (ovnlb): {e}")
    if isinstance(e, nt.NeutronConflict):
        return _fault(lib_exc.Conflict, f"Neutron: {e}")
    if isinstance(e, errors.ValidationError):
        return _fault(lib_exc.DriverError, f"ovnlb refused the request: {e}")
    if isinstance(e, BackendError):
        return _fault(lib_exc.DriverError, f"OVN Northbound database unavailable: {e}")
    if isinstance(e, nt.NeutronError):
        return _fault(lib_exc.DriverError, f"Neutron: {e}")
    return _fault(lib_exc.DriverError, f"ovnlb: {type(e).__name__}: {e}")


def _plain(obj: Any) -> dict[str, Any]:
    """octavia-lib object or dict -> dict without Unset values."""
    return dict(oc.as_dict(obj))


class OvnLbProviderDriver(provider_base.ProviderDriver):  # type: ignore[misc]
    """Octavia's provider driver ``ovnlb`` (see the module docstring)."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        super().__init__()
        self.runtime = runtime if runtime is not None else process_runtime(_default_runtime)

    # -- machinery ---------------------------------------------------------------------

    def _driver(self, backend: Backend, lb_id: str | None, vip_subnet: str | None = None) -> Any:
        rt = self.runtime
        view = oc.OctaviaView()
        if lb_id is not None:
            subnet = vip_subnet or self._vip_subnet(backend, lb_id)
            if subnet:
                rt.subnets.fetch([subnet])
                view.loadbalancers[lb_id] = {"loadbalancer_id": lb_id, "vip_subnet_id": subnet}
        return OvnLbDriver(backend, rt.subnets, view, cache=rt.cache)

    def _vip_subnet(self, backend: Backend, lb_id: str) -> str | None:
        """The LB's VIP subnet: from its VIP port in Neutron (kept per process)."""
        rt = self.runtime
        if rt.vip_subnets.get(lb_id):
            return rt.vip_subnets[lb_id]
        port_id = vip = None
        for _u, row in backend.reader().by_name("Load_Balancer", lb_id):
            ext = row.get("external_ids", {})
            port_id = port_id or ext.get("neutron:vip_port_id")
            vip = vip or ext.get("neutron:vip")
        if not port_id:
            return None
        port = rt.network.get_port(port_id)
        subnet = None
        for f in (port or {}).get("fixed_ips") or ():
            if subnet is None or f.get("ip_address") == vip:
                subnet = f.get("subnet_id")
        rt.vip_subnets[lb_id] = subnet
        return subnet

    def _lb_of_pool(self, backend: Backend, pool_id: str) -> str:
        found = find_lb_of_pool(backend.reader(), pool_id)
        if found is None:
            raise errors.NotFoundError("pool", pool_id, "no Load_Balancer row holds it")
        return found

    def _request(
        self,
        lb_of: Callable[[Backend], str],
        run: Callable[[OvnLbDriver], list[Payload]],
        on_error: Callable[[str | None], Payload],
        *,
        created: tuple[str, str] | None = None,
        before: Callable[[Backend, str], None] | None = None,
        after: Callable[[Backend, str, OvnLbDriver | None], None] | None = None,
        vip_subnet: str | None = None,
        members_of_request: set[str] | None = None,
    ) -> None:
        rt = self.runtime

        def validate() -> None:
            backend = rt.backend()
            lb_id = lb_of(backend)
            run(self._driver(_DryRun(backend), lb_id, vip_subnet))

        try:
            rt.call(validate)
        except (errors.OvnlbError, BackendError, nt.NeutronError) as e:
            raise octavia_error(e) from e

        def apply() -> None:
            lb_id: str | None = None
            try:
                backend = rt.backend()
                lb_id = lb_of(backend)
                if before is not None:
                    before(backend, lb_id)
                driver = self._driver(backend, lb_id, vip_subnet)
                statuses = run(driver)
                if after is not None:
                    try:
                        after(backend, lb_id, driver)
                    except Exception:
                        # Port clean-up is best effort: the request itself succeeded.
                        log.exception("clean-up after the request failed")
                # One report per request: Octavia applies members, pools and listeners
                # before the load balancer, so the LB leaves PENDING_UPDATE last.
                report = _last_wins(rq.merge_payloads(statuses))
                if members_of_request is not None:
                    report = _only_members(report, members_of_request)
                rt.push(report)
            except Exception:
                log.exception("request failed; reporting its objects ERROR")
                rt.push(on_error(lb_id))

        if created is None:
            rt.submit(apply)
            return

        def wait_then_apply() -> None:
            if self._committed(*created):
                rt.submit(apply)
            else:
                log.warning(
                    "%s %s never appeared in Octavia (request rolled back?): not applied",
                    *created,
                )

        # Waiting happens off the NB thread: a rolled-back create must not stall the others.
        rt.wait_in_background(wait_then_apply)

    def _committed(self, kind: str, oid: str) -> bool:
        """Wait until Octavia's database shows ``oid`` (its API transaction committed).

        Only answers count towards ``commit_timeout``: while the driver agent
        cannot be asked (restarting), the wait goes on, so a committed create
        is never dropped because the agent was briefly away.
        """
        rt = self.runtime
        deadline = time.monotonic() + rt.commit_timeout
        delay = 0.02
        while True:
            try:
                if getattr(rt.sink(), f"get_{kind}")(oid):
                    return True
            except Exception as e:
                log.warning("asking Octavia for %s %s: %s", kind, oid, e)
                rt.drop_sink()
                deadline = max(deadline, time.monotonic() + rt.commit_timeout)
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(0.5, delay * 2)

    def _pool_parents(self, pool_id: str | None, lb_id: str | None) -> Payload:
        """ACTIVE for the pool, its listener and LB (Octavia set them PENDING_UPDATE)."""
        out: Payload = {"loadbalancers": [], "listeners": [], "pools": []}
        info: Mapping[str, Any] = {}
        if pool_id:
            try:
                info = self.runtime.sink().get_pool(pool_id) or {}
            except Exception:
                log.exception("reading pool %s from Octavia", pool_id)
            out["pools"].append(entry(pool_id, ACTIVE))
        if info.get("listener_id"):
            out["listeners"].append(entry(str(info["listener_id"]), ACTIVE))
        lb = lb_id or info.get("loadbalancer_id")
        if lb:
            out["loadbalancers"].append(entry(str(lb), ACTIVE))
        return out

    # -- ports -------------------------------------------------------------------------

    def _pool_member_subnets(self, backend: Backend, lb_id: str, pool_id: str) -> list[str]:
        actual = lb_rowset(backend.reader(), lb_id)
        if not actual.lbs:
            return []
        state = parse(lb_id, actual, cache=self.runtime.cache)
        out: list[str] = []
        for row in state.rows:
            pool = row.pool(pool_id)
            for m in pool.members if pool else ():
                if m.subnet_id and m.subnet_id not in out:
                    out.append(m.subnet_id)
        return out

    def _pool_has_hm(self, backend: Backend, lb_id: str, pool_id: str) -> bool:
        """True when a health check of the LB names the pool (``octavia:pool_id``, maybe ``:D``)."""
        actual = lb_rowset(backend.reader(), lb_id)
        if not actual.lbs:
            return False
        state = parse(lb_id, actual, cache=self.runtime.cache)
        return any(
            hc.external_ids.get("octavia:pool_id", "").removesuffix(":D") == pool_id
            for row in state.rows
            for hc in row.health_checks
        )

    def _ensure_hm_ports(self, backend: Backend, subnet_ids: Sequence[str | None]) -> None:
        """The health-check source ports of these subnets exist, and NB shows them."""
        rt = self.runtime
        made: list[str] = []
        for sid in dict.fromkeys(s for s in subnet_ids if s):
            subnet = rt.subnets.get(sid)
            if subnet is None:
                continue
            port = nt.ensure_hm_port(rt.network, subnet.network_id, sid)
            if port is not None:
                made.append(str(port["id"]))
        if made and hasattr(backend, "wait_for"):
            # Neutron wrote the LSP before answering; wait for our replica to see it.
            backend.wait_for(
                lambda: all(backend.reader().by_name("Logical_Switch_Port", p) for p in made),
                10.0,
            )

    def _cleanup_hm_ports(self, backend: Backend, subnet_ids: Sequence[str | None]) -> None:
        ids = [s for s in dict.fromkeys(subnet_ids) if s]
        if ids:
            nt.cleanup_hm_ports(self.runtime.network, backend.reader(), ids)

    def _lb_subnets(self, backend: Backend, lb_id: str) -> list[str]:
        actual = lb_rowset(backend.reader(), lb_id)
        if not actual.lbs:
            return []
        state = parse(lb_id, actual, cache=self.runtime.cache)
        return list(dict.fromkeys(m.subnet_id for r in state.rows for _p, m in r.all_members()))

    def _member_fips(
        self, backend: Backend, lb_id: str, members: Sequence[oc.Member], vip_subnet: str | None
    ) -> list[str]:
        """Neutron ids of the members' floating IPs, when the LB has a VIP floating IP."""
        reader = backend.reader()
        has_vip_fip = any(
            ext.get("neutron:vip_fip") or ext.get("neutron:additional_vip_fip")
            for _u, r in reader.by_name("Load_Balancer", lb_id)
            for ext in [r.get("external_ids", {})]
        )
        if not has_vip_fip:
            return []
        topo = Topology(reader, self.runtime.subnets)
        out: list[str] = []
        for m in members:
            sid = m.subnet_id or vip_subnet
            if not sid:
                continue
            lsp = topo.member_port(sid, m.address)
            if lsp is None:
                continue
            for _u, nat in topo.nats_of_port(str(lsp.get("name"))):
                fip = nat.get("external_ids", {}).get("neutron:fip_id")
                if fip:
                    out.append(str(fip))
        return out

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
            port, extra = nt.create_vip_ports(
                self.runtime.network,
                loadbalancer_id,
                project_id,
                vip_dictionary,
                list(additional_vip_dicts or ()),
            )
        except nt.NeutronError as e:
            raise octavia_error(e) from e
        fixed = (port.get("fixed_ips") or [{}])[0]
        vip = dict(vip_dictionary)
        vip["vip_port_id"] = port["id"]
        vip["vip_address"] = fixed.get("ip_address")
        vip.setdefault("vip_network_id", port.get("network_id"))
        if fixed.get("subnet_id"):
            vip["vip_subnet_id"] = fixed["subnet_id"]
        adds = [
            {
                "port_id": p["id"],
                "network_id": p.get("network_id"),
                "subnet_id": (p.get("fixed_ips") or [{}])[0].get("subnet_id"),
                "ip_address": (p.get("fixed_ips") or [{}])[0].get("ip_address"),
            }
            for p in extra
        ]
        return vip, adds

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

        def run(d: OvnLbDriver) -> list[Payload]:
            return [_populated_create(d, full)]

        def before(backend: Backend, _lb: str) -> None:
            self.runtime.subnets.fetch(
                [lb.vip_subnet_id, *(m.subnet_id for p in full.pools for m in p.members)]
            )
            self._ensure_hm_ports(backend, member_subnets)

        def on_error(_lb: str | None) -> Payload:
            out: Payload = {"loadbalancers": [entry(lb.id, ERROR)]}
            out["listeners"] = [entry(li.id, ERROR) for li in full.listeners]
            out["pools"] = [entry(p.id, ERROR) for p in full.pools]
            out["members"] = [entry(m.id, ERROR) for p in full.pools for m in p.members]
            out["healthmonitors"] = [
                entry(p.healthmonitor.id, ERROR) for p in full.pools if p.healthmonitor
            ]
            return {k: v for k, v in out.items() if v}

        if lb.vip_subnet_id:
            self.runtime.vip_subnets[lb.id] = lb.vip_subnet_id
        self._request(
            lambda _b: lb.id,
            run,
            on_error,
            created=("loadbalancer", lb.id),
            before=before,
            vip_subnet=lb.vip_subnet_id,
        )

    def loadbalancer_update(self, old_loadbalancer: Any, new_loadbalancer: Any) -> None:
        """Admin state changes."""
        lb_id = str(_plain(old_loadbalancer).get("loadbalancer_id"))
        self._request(
            lambda _b: lb_id,
            lambda d: d.lb_update(old_loadbalancer, new_loadbalancer),
            lambda _lb: {"loadbalancers": [entry(lb_id, ERROR)]},
        )

    def loadbalancer_delete(self, loadbalancer: Any, cascade: bool = False) -> None:
        """Delete the LB (cascade: with everything under it); its VIP ports and unused HM ports."""
        lb_id = str(_plain(loadbalancer).get("loadbalancer_id"))
        subnets: list[str] = []

        def before(backend: Backend, _lb: str) -> None:
            subnets[:] = self._lb_subnets(backend, lb_id)

        def after(backend: Backend, _lb: str, _d: OvnLbDriver | None) -> None:
            nt.delete_vip_ports(self.runtime.network, lb_id)
            self._cleanup_hm_ports(backend, subnets)
            self.runtime.vip_subnets.pop(lb_id, None)

        self._request(
            lambda _b: lb_id,
            lambda d: d.lb_delete(loadbalancer, cascade),
            lambda _lb: {"loadbalancers": [entry(lb_id, ERROR)]},
            before=before,
            after=after,
        )

    def loadbalancer_failover(self, loadbalancer_id: str) -> None:
        """Refused: OVN load balancers have nothing to fail over."""
        raise _fault(
            lib_exc.UnsupportedOptionError, "OVN provider (ovnlb) does not support failover"
        )

    # -- listener ------------------------------------------------------------------------

    def _listener(self, obj: Any, run: RunFn, created: bool = False) -> None:
        data = _plain(obj)
        li_id, lb_id = str(data.get("listener_id")), str(data.get("loadbalancer_id"))
        self._request(
            lambda _b: lb_id,
            run,
            lambda _lb: {
                "listeners": [entry(li_id, ERROR)],
                "loadbalancers": [entry(lb_id, ACTIVE)],
            },
            created=("listener", li_id) if created else None,
        )

    def listener_create(self, listener: Any) -> None:
        """A listener (TCP, UDP or SCTP; ``allowed_cidrs`` refused)."""
        self._listener(listener, lambda d: d.listener_create(listener), created=True)

    def listener_update(self, old_listener: Any, new_listener: Any) -> None:
        """Admin state, default pool."""
        merged = {**_plain(old_listener), **_plain(new_listener)}
        self._listener(merged, lambda d: d.listener_update(old_listener, new_listener))

    def listener_delete(self, listener: Any) -> None:
        """Delete a listener."""
        self._listener(listener, lambda d: d.listener_delete(listener))

    # -- pool ----------------------------------------------------------------------------

    def _pool(self, obj: Any, run: RunFn, created: bool = False, after: Any = None) -> None:
        data = _plain(obj)
        pool_id, lb_id = str(data.get("pool_id")), str(data.get("loadbalancer_id"))

        def on_error(_lb: str | None) -> Payload:
            out = self._pool_parents(pool_id, lb_id)
            out["pools"] = [entry(pool_id, ERROR)]
            return out

        self._request(
            lambda _b: lb_id,
            run,
            on_error,
            created=("pool", pool_id) if created else None,
            after=after,
        )

    def pool_create(self, pool: Any) -> None:
        """A pool (SOURCE_IP_PORT or SOURCE_IP; session persistence SOURCE_IP only)."""
        self._pool(pool, lambda d: d.pool_create(pool), created=True)

    def pool_update(self, old_pool: Any, new_pool: Any) -> None:
        """Admin state, algorithm, session persistence."""
        merged = {**_plain(old_pool), **_plain(new_pool)}
        self._pool(merged, lambda d: d.pool_update(old_pool, new_pool))

    def pool_delete(self, pool: Any) -> None:
        """Delete a pool with its members and health monitor."""
        data = _plain(pool)
        subnets = [m.get("subnet_id") for m in data.get("members") or ()]

        def after(backend: Backend, _lb: str, _d: OvnLbDriver | None) -> None:
            self._cleanup_hm_ports(backend, subnets)

        self._pool(pool, lambda d: d.pool_delete(pool), after=after)

    # -- members -------------------------------------------------------------------------

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

        def lb_of(backend: Backend) -> str:
            return self._lb_of_pool(backend, pool_id)

        def before(backend: Backend, lb_id: str) -> None:
            vip_subnet = self._vip_subnet(backend, lb_id)
            subnets = [m.get("subnet_id") or vip_subnet for m in members]
            self.runtime.subnets.fetch(subnets)
            if adding and self._pool_has_hm(backend, lb_id, pool_id):
                self._ensure_hm_ports(backend, subnets)
            if removing:
                objs = [
                    oc.Member.from_dict({**m, "pool_id": pool_id})
                    for m in members
                    if "address" in m
                ]
                fips[:] = self._member_fips(backend, lb_id, objs, vip_subnet)
                removed_subnets[:] = [m.subnet_id or vip_subnet for m in objs]

        def after(backend: Backend, _lb: str, _d: OvnLbDriver | None) -> None:
            if removing:
                for fip in fips:
                    nt.touch_floating_ip(self.runtime.network, fip)
                self._cleanup_hm_ports(backend, removed_subnets)

        def on_error(lb_id: str | None) -> Payload:
            out = self._pool_parents(pool_id, lb_id)
            out["members"] = [entry(m, ERROR) for m in member_ids]
            return out

        self._request(
            lb_of,
            run,
            on_error,
            created=created,
            before=before,
            after=after,
            members_of_request=set(member_ids),
        )

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
        merged = {**_plain(old_member), **_plain(new_member)}
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

    # -- health monitors -------------------------------------------------------------------

    def _hm(self, obj: Any, run: RunFn, *, created: bool = False, deleting: bool = False) -> None:
        data = _plain(obj)
        hm_id, pool_id = str(data.get("healthmonitor_id")), str(data.get("pool_id"))
        subnets: list[str] = []

        def before(backend: Backend, lb_id: str) -> None:
            vip_subnet = self._vip_subnet(backend, lb_id)
            subnets[:] = self._pool_member_subnets(backend, lb_id, pool_id) or (
                [vip_subnet] if vip_subnet else []
            )
            self.runtime.subnets.fetch(subnets)
            if not deleting:
                self._ensure_hm_ports(backend, subnets)

        def after(backend: Backend, _lb: str, _d: OvnLbDriver | None) -> None:
            if deleting:
                self._cleanup_hm_ports(backend, subnets)

        def on_error(lb_id: str | None) -> Payload:
            out = self._pool_parents(pool_id, lb_id)
            out["healthmonitors"] = [entry(hm_id, ERROR)]
            return out

        self._request(
            lambda b: self._lb_of_pool(b, pool_id),
            run,
            on_error,
            created=("healthmonitor", hm_id) if created else None,
            before=before,
            after=after,
        )

    def health_monitor_create(self, healthmonitor: Any) -> None:
        """A TCP or UDP-CONNECT health monitor (its source port created when missing)."""
        self._hm(healthmonitor, lambda d: d.hm_create(healthmonitor), created=True)

    def health_monitor_update(self, old_healthmonitor: Any, new_healthmonitor: Any) -> None:
        """Timing and admin state."""
        merged = {**_plain(old_healthmonitor), **_plain(new_healthmonitor)}
        self._hm(merged, lambda d: d.hm_update(old_healthmonitor, new_healthmonitor))

    def health_monitor_delete(self, healthmonitor: Any) -> None:
        """Delete a health monitor (and its source port once unused)."""
        self._hm(healthmonitor, lambda d: d.hm_delete(healthmonitor), deleting=True)


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
            state, (_last_wins(merged),), tuple(n for o in outcomes for n in o.nat_updates)
        )

    return dict(d.run(lb.id, fn).statuses[0])


def _only_members(payload: Payload, ids: set[str]) -> Payload:
    """The report without the roll-up's entries for members the request did not touch.

    The reference reports every member of the pool on a member create (spec
    5.3); Octavia applies each entry in its own transaction, so on a pool of
    1000 members one create costs 1000 database updates of statuses that did
    not change. Members the request named and members it deleted stay.
    """
    out = dict(payload)
    if "members" in out:
        out["members"] = [
            e for e in out["members"] if e["id"] in ids or e.get("provisioning_status") == DELETED
        ]
    return out


def _last_wins(payload: Payload) -> Payload:
    """One entry per object: the last report of it (later steps saw the finished state)."""
    out: Payload = {}
    for kind, entries in payload.items():
        by_id: dict[str, dict[str, Any]] = {}
        for e in entries:
            by_id[e["id"]] = {**by_id.get(e["id"], {}), **e}
        out[kind] = list(by_id.values())
    return out


def _default_runtime() -> Runtime:
    """The process runtime from cfg.CONF: IdlBackend on ``[ovnlb] nb_connection``, Neutron
    from ``[neutron]``, DriverLibrary on ``[driver_agent]``'s socket paths."""
    from oslo_config import cfg

    from ovnlb_backends.idl import IdlBackend
    from ovnlb_octavia import config

    conf = config.register_opts()
    opts = conf.ovnlb

    def backend() -> Backend:
        return IdlBackend(
            config.remote(opts.nb_connection),
            timeout=opts.ovsdb_connection_timeout,
            ssl_key=opts.nb_private_key or None,
            ssl_cert=opts.nb_certificate or None,
            ssl_ca=opts.nb_ca_cert or None,
        )

    return Runtime(
        backend,
        _LazyNetwork(lambda: nt.sdk_network(conf)),
        lambda: driver_library(cfg.CONF),
        push_attempts=opts.status_update_attempts,
        push_max_interval=opts.status_update_max_interval,
        commit_timeout=opts.octavia_commit_timeout,
    )


def driver_library(conf: Any) -> StatusSink:
    """octavia-lib's DriverLibrary on the sockets of Octavia's ``[driver_agent]`` section."""
    from octavia_lib.api.drivers import driver_lib

    kwargs: dict[str, str] = {}
    group = getattr(conf, "driver_agent", None)
    for key, opt in (
        ("status_socket", "status_socket_path"),
        ("stats_socket", "stats_socket_path"),
        ("get_socket", "get_socket_path"),
    ):
        value = getattr(group, opt, None) if group is not None else None
        if value:
            kwargs[key] = value
    lib: StatusSink = driver_lib.DriverLibrary(**kwargs)
    return lib


class _LazyNetwork:
    """A :class:`~ovnlb_octavia.neutron.Network` built on first use (keystone may be slow)."""

    def __init__(self, make: Callable[[], nt.Network]) -> None:
        self._make = make
        self._net: nt.Network | None = None

    def __getattr__(self, name: str) -> Any:
        if self._net is None:
            self._net = self._make()
        return getattr(self._net, name)


__all__ = ["OvnLbProviderDriver", "driver_library", "octavia_error"]

# Octavia answers 501 for these through the base class's NotImplementedError: L7 policies
# and rules, flavors, availability zones and failover with a flavor, as the reference.
