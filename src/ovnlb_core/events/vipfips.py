"""Floating IPs of VIP ports (spec 6.1, 6.2, deviations B31/B32): everything about
keeping a load balancer's VIP FIPs equal to the NAT rows of its VIP ports lives here.
"""

from __future__ import annotations

from ovnlb_core import requests as rq
from ovnlb_core.events.lookup import FIP_PORT_KEY, nat_relevant
from ovnlb_core.events.memberfips import member_fip_updates
from ovnlb_core.events.model import LbAction, RowChange
from ovnlb_core.model import LoadBalancerState
from ovnlb_core.nb import NbReader
from ovnlb_core.topology import Topology
from ovnlb_core.translate import vip_list

__all__ = [
    "PORT_FIP_KEY",
    "VIP_PORT_PREFIX",
    "reconcile_vip_fips",
    "vip_fip_actions",
]


VIP_PORT_PREFIX = "ovn-lb-vip-"


PORT_FIP_KEY = "neutron:port_fip"


def _port_fips(topo: Topology, port: str) -> list[str]:
    """External IPs of the ``dnat_and_snat`` NAT rows of floating IPs on the port."""
    return sorted(
        {
            str(nat.get("external_ip", ""))
            for _u, nat in topo.nats_of_port(port)
            if nat.get("type", "dnat_and_snat") == "dnat_and_snat" and nat.get("external_ip")
        }
    )


def _port_ips(topo: Topology, port: str) -> list[str]:
    ips: list[str] = []
    for _u, lsp in topo.nb.by_name("Logical_Switch_Port", port):
        for entry in lsp.get("addresses", ()):
            for token in entry.split()[1:]:
                if token not in ips:
                    ips.append(token)
    for _u, nat in topo.nats_of_port(port):
        ip = str(nat.get("logical_ip", ""))
        if ip and ip not in ips:
            ips.append(ip)
    return ips


def reconcile_vip_fips(ctx: rq.Context, state: LoadBalancerState | None) -> rq.Outcome:
    """The rows' VIP floating IPs made equal to the NAT rows of the VIP ports (spec 6.2).

    Each FIP the rows hold but no NAT row gives is disassociated; each FIP a
    NAT row gives but the rows lack is associated (primary VIP port:
    ``neutron:vip_fip``; additional VIP ports: ``neutron:additional_vip_fips``)
    with its health-check copies. Then member FIPs are centralised (spec 6.4).
    """
    if state is None or not state.rows:
        return rq.Outcome(state)
    topo = ctx.topology
    base = state.rows[0]
    primary_port = next((r.vip_port_id for r in state.rows if r.vip_port_id), None)
    add_ports: list[str] = []
    for r in state.rows:
        for p in r.additional_vip_port_ids or ():
            if p and p not in add_ports:
                add_ports.append(p)
    want_primary = _port_fips(topo, primary_port)[:1] if primary_port else []
    want_add: list[str] = []
    for p in add_ports:
        want_add += [f for f in _port_fips(topo, p) if f not in want_add]
    have: set[str] = set()
    for r in state.rows:
        if r.vip_fip:
            have.add(r.vip_fip)
        have.update(r.additional_vip_fips or ())
    for fip in sorted(have - set(want_primary) - set(want_add)):
        state = rq.fip_disassociate(ctx, state, fip).state
        assert state is not None
    # A FIP that moved between the primary and an additional port: drop the stale form.
    for fip in want_add:
        if any(r.vip_fip == fip for r in state.rows):
            state = rq.fip_disassociate(ctx, state, fip).state
            assert state is not None
    for fip in want_primary:
        if any(fip in (r.additional_vip_fips or ()) for r in state.rows):
            state = rq.fip_disassociate(ctx, state, fip).state
            assert state is not None
    related_primary = _port_ips(topo, primary_port) if primary_port else list(vip_list(base)[:1])
    for fip in want_primary:
        state = rq.fip_associate(ctx, state, fip, "vip", related_primary).state
        assert state is not None
    for p in add_ports:
        related = _port_ips(topo, p)
        for fip in _port_fips(topo, p):
            state = rq.fip_associate(ctx, state, fip, "additional_vip", related).state
            assert state is not None
    return rq.Outcome(state, (), tuple(member_fip_updates(topo, state)))


def _vip_port_lbs(reader: NbReader, port: str) -> list[str]:
    """Load balancers whose primary or additional VIP port is ``port``."""
    out: list[str] = []
    for _u, lsp in reader.by_name("Logical_Switch_Port", port):
        name = str(lsp.get("external_ids", {}).get("neutron:port_name", ""))
        if name.startswith(VIP_PORT_PREFIX + "additional-"):
            rest = name[len(VIP_PORT_PREFIX + "additional-") :]
            candidate = rest[:36]
        elif name.startswith(VIP_PORT_PREFIX):
            candidate = name[len(VIP_PORT_PREFIX) :]
        else:
            continue
        if reader.by_name("Load_Balancer", candidate) and candidate not in out:
            out.append(candidate)
    if out:
        return out
    # User-supplied VIP ports keep their own names (B32): look at the rows.
    for row in reader.rows("Load_Balancer").values():
        ext = row.get("external_ids", {})
        ports = [ext.get("neutron:vip_port_id", "")]
        ports += ext.get("neutron:additional_vip_port_ids", "").split(",")
        if port in ports:
            name = str(row.get("name", ""))
            if name not in out:
                out.append(name)
    return out


def _nat_ports(change: RowChange) -> list[str]:
    ports: list[str] = []
    for r in change.rows:
        p = r.get("external_ids", {}).get(FIP_PORT_KEY)
        if p and p not in ports:
            ports.append(str(p))
    return ports


def vip_fip_actions(reader: NbReader, change: RowChange) -> list[LbAction]:
    """A FIP NAT row of a VIP port created, changed or deleted (or the VIP LSP's
    ``neutron:port_fip`` changed): reconcile that load balancer's VIP FIPs."""
    ports: list[str] = []
    if change.table == "NAT":
        if not nat_relevant(change):
            return []
        ports = _nat_ports(change)
    elif change.table == "Logical_Switch_Port":
        old = (change.old or {}).get("external_ids", {}).get(PORT_FIP_KEY)
        new = (change.new or {}).get("external_ids", {}).get(PORT_FIP_KEY)
        if old == new or change.new is None:
            return []
        ports = [str(change.new.get("name", ""))]
    out: list[LbAction] = []
    for p in ports:
        for name in _vip_port_lbs(reader, p):
            if not any(a.lb_id == name for a in out):
                out.append(LbAction(name, "vip_fip", reconcile_vip_fips))
    return out
