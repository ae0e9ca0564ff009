"""Member floating IPs under DVR (spec 6.4, deviations B19/B20): everything about
centralising the FIPs of a load balancer's members lives here.
"""

from __future__ import annotations

from ovnlb_core import requests as rq
from ovnlb_core.events.lookup import FIP_PORT_KEY, holder_lbs, nat_relevant
from ovnlb_core.events.model import LbAction, RowChange
from ovnlb_core.model import LoadBalancerState, ProtocolRow
from ovnlb_core.nb import NbReader
from ovnlb_core.plan import NatUpdate
from ovnlb_core.topology import Topology

__all__ = [
    "centralise_member_fips",
    "member_fip_actions",
    "member_fip_updates",
]


def _member_ports(topo: Topology, row: ProtocolRow) -> dict[str, str]:
    """Member address -> LSP name, over the members' switches."""
    wanted = {m.address for _p, m in row.all_members()}
    out: dict[str, str] = {}
    if not wanted:
        return out
    for _p, m in row.all_members():
        lsp = topo.member_port(m.subnet_id, m.address) if topo.subnet(m.subnet_id) else None
        if lsp is not None:
            out.setdefault(m.address, str(lsp.get("name")))
    missing = wanted - set(out)
    if not missing:
        return out
    lsps = topo.nb.rows("Logical_Switch_Port")
    for ls in row.ls_ref_counts():
        found = topo.switch(ls)
        if found is None:
            continue
        for u in found[1].get("ports", ()):
            lsp = lsps.get(u)
            if lsp is None or lsp.get("type") not in ("", None):
                continue
            for entry in lsp.get("addresses", ()):
                for token in entry.split()[1:]:
                    if token in missing:
                        out.setdefault(token, str(lsp.get("name")))
    return out


def member_fip_updates(topo: Topology, state: LoadBalancerState | None) -> list[NatUpdate]:
    """Centralise the FIPs of every member of a load balancer that has a VIP FIP (spec 6.4).

    Every member is looked at (B19); a NAT already centralised gives nothing.
    """
    out: list[NatUpdate] = []
    if state is None:
        return out
    for row in state.rows:
        if not row.vip_fip and not row.additional_vip_fips:
            continue
        for address, port in sorted(_member_ports(topo, row).items()):
            for u, nat in topo.nats_of_port(port):
                if nat.get("logical_ip") not in (None, "", address):
                    continue
                clear_lp = nat.get("logical_port") is not None
                clear_mac = nat.get("external_mac") is not None
                upd = NatUpdate(u, clear_logical_port=clear_lp, clear_external_mac=clear_mac)
                if (clear_lp or clear_mac) and upd not in out:
                    out.append(upd)
    return out


def centralise_member_fips(ctx: rq.Context, state: LoadBalancerState | None) -> rq.Outcome:
    """Request closure: :func:`member_fip_updates`, rows unchanged."""
    return rq.Outcome(state, (), tuple(member_fip_updates(ctx.topology, state)))


def member_fip_actions(reader: NbReader, change: RowChange) -> list[LbAction]:
    """A FIP NAT row of a (member) port created or changed: centralise it when that port is
    a member of a load balancer with a VIP FIP."""
    if change.table != "NAT" or change.new is None or not nat_relevant(change):
        return []
    port = change.new.get("external_ids", {}).get(FIP_PORT_KEY)
    if not port:
        return []
    out: list[LbAction] = []
    for u, _lsp in reader.by_name("Logical_Switch_Port", str(port)):
        for _su, ls in reader.referrers("Logical_Switch", "ports", u):
            for name in holder_lbs(reader, "Logical_Switch", str(ls.get("name", ""))):
                if not any(a.lb_id == name for a in out):
                    out.append(LbAction(name, "member_fip", centralise_member_fips))
    return out
