"""The Neutron side effects of a request: everything about the ports a request needs lives here.

Before a request: the VIP subnet of a load balancer (from its VIP port), the
health-check source ports of the member subnets; after it: clean-up of the
source ports nothing uses any more and the member floating IPs that need the
reference's empty update. The port rules themselves (names, owners) are in
:mod:`ovnlb_octavia.neutron`; this module decides *which* ports a request
touches, from the load balancer's NB rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ovnlb_backends.base import Backend
from ovnlb_core import octavia as oc
from ovnlb_core.formats import (
    HC_POOL,
    KEY_ADD_VIP_FIPS,
    KEY_VIP,
    KEY_VIP_FIP,
    KEY_VIP_PORT,
    parse_hc_pool,
)
from ovnlb_core.model import LoadBalancerState
from ovnlb_core.parse import parse
from ovnlb_core.rows import lb_rowset
from ovnlb_core.topology import Topology
from ovnlb_octavia import neutron as nt
from ovnlb_octavia.runtime import Replica, Runtime

__all__ = ["Ports"]


class Ports:
    """The Neutron ports of one process's requests (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def vip_subnet(self, backend: Backend, lb_id: str) -> str | None:
        """The LB's VIP subnet: from its VIP port in Neutron (kept per process)."""
        rt = self.runtime
        if rt.vip_subnets.get(lb_id):
            return rt.vip_subnets[lb_id]
        port_id = vip = None
        for _u, row in backend.reader().by_name("Load_Balancer", lb_id):
            ext = row.get("external_ids", {})
            port_id = port_id or ext.get(KEY_VIP_PORT)
            vip = vip or ext.get(KEY_VIP)
        if not port_id:
            return None
        port = rt.network.get_port(port_id)
        subnet = None
        for f in (port or {}).get("fixed_ips") or ():
            if subnet is None or f.get("ip_address") == vip:
                subnet = f.get("subnet_id")
        rt.vip_subnets[lb_id] = subnet
        return subnet

    def create_vip_ports(
        self,
        lb_id: str,
        project_id: str | None,
        vip_dictionary: dict[str, Any],
        additional_vip_dicts: Sequence[Mapping[str, Any]],
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The VIP port (and additional VIP ports), in ``create_vip_port``'s answer form."""
        port, extra = nt.create_vip_ports(
            self.runtime.network, lb_id, project_id, vip_dictionary, list(additional_vip_dicts)
        )
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

    def _state(self, backend: Backend, lb_id: str) -> LoadBalancerState | None:
        """The load balancer parsed from its NB rows (None when it has none)."""
        actual = lb_rowset(backend.reader(), lb_id)
        if not actual.lbs:
            return None
        return parse(lb_id, actual, cache=self.runtime.cache)

    def pool_member_subnets(self, backend: Backend, lb_id: str, pool_id: str) -> list[str]:
        """The subnets of the pool's members, in NB order."""
        state = self._state(backend, lb_id)
        out: list[str] = []
        for row in state.rows if state else ():
            pool = row.pool(pool_id)
            for m in pool.members if pool else ():
                if m.subnet_id and m.subnet_id not in out:
                    out.append(m.subnet_id)
        return out

    def pool_has_hm(self, backend: Backend, lb_id: str, pool_id: str) -> bool:
        """True when a health check of the LB names the pool (``octavia:pool_id``, maybe ``:D``)."""
        state = self._state(backend, lb_id)
        return state is not None and any(
            parse_hc_pool(hc.external_ids.get(HC_POOL, "")) == pool_id
            for row in state.rows
            for hc in row.health_checks
        )

    def lb_subnets(self, backend: Backend, lb_id: str) -> list[str]:
        """The subnets of every member of the LB."""
        state = self._state(backend, lb_id)
        if state is None:
            return []
        return list(dict.fromkeys(m.subnet_id for r in state.rows for _p, m in r.all_members()))

    def ensure_hm_ports(self, backend: Replica, subnet_ids: Sequence[str | None]) -> None:
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
        if made:
            # Neutron wrote the LSP before answering; wait for our replica to see it.
            backend.wait_for(
                lambda: all(backend.reader().by_name("Logical_Switch_Port", p) for p in made),
                10.0,
            )

    def cleanup_hm_ports(self, backend: Backend, subnet_ids: Sequence[str | None]) -> None:
        """Delete the source ports of these subnets that no ``ip_port_mappings`` use."""
        ids = [s for s in dict.fromkeys(subnet_ids) if s]
        if ids:
            nt.cleanup_hm_ports(self.runtime.network, backend.reader(), ids)

    def member_fips(
        self, backend: Backend, lb_id: str, members: Sequence[oc.Member], vip_subnet: str | None
    ) -> list[str]:
        """Neutron ids of the members' floating IPs, when the LB has a VIP floating IP."""
        reader = backend.reader()
        has_vip_fip = any(
            ext.get(KEY_VIP_FIP) or ext.get(KEY_ADD_VIP_FIPS)
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

    def touch_floating_ips(self, fips: Sequence[str]) -> None:
        """The reference's empty update of each floating IP (DVR re-reads its NAT)."""
        for fip in fips:
            nt.touch_floating_ip(self.runtime.network, fip)
