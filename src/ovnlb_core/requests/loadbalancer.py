"""Everything about load balancers lives here: ``loadbalancer_create``, ``_update``, ``_delete``.

A load balancer starts as one protocol-less row (spec 2.1) joined to its VIP
subnet's routers and counting its VIP switch
(:func:`~ovnlb_core.requests.associations.vip_associations`); its admin state
is every row's ``enabled``; deleting it deletes every row.
"""

from __future__ import annotations

import attrs

from ovnlb_core import validate
from ovnlb_core.formats import enabled_text, row_uuid
from ovnlb_core.model import SELECTION_FIELDS, LoadBalancerState, ProtocolRow
from ovnlb_core.octavia import LoadBalancer, Update
from ovnlb_core.requests.associations import vip_associations
from ovnlb_core.requests.common import Context, Outcome
from ovnlb_core.status import ACTIVE, DELETED, ERROR, Payload, entry
from ovnlb_core.topology import Topology, ovn_name

__all__ = ["lb_create", "lb_delete", "lb_update"]


def lb_create(ctx: Context, state: LoadBalancerState | None, lb: LoadBalancer) -> Outcome:
    """``loadbalancer_create``: the protocol-less row, router and switch associations."""
    validate.loadbalancer(lb)
    operating = "ONLINE" if lb.admin_state_up else "OFFLINE"
    report: Payload = {"loadbalancers": [entry(lb.id, ACTIVE, operating)]}
    if state is not None and state.rows:
        return Outcome(state, (report,))
    vip_port = lb.vip_port_id
    if vip_port is None and lb.vip_network_id and lb.vip_address:
        vip_port = _find_vip_port(ctx.topology, lb.vip_network_id, lb.vip_address)
    add = lb.additional_vips
    row = ProtocolRow(
        uuid=row_uuid(lb.id, "none"),
        enabled=enabled_text(lb.admin_state_up),
        vip=lb.vip_address,
        vip_port_id=vip_port,
        additional_vips=tuple(a.ip_address for a in add) or None,
        additional_vip_port_ids=tuple(a.port_id or "" for a in add) or None,
        selection_fields=SELECTION_FIELDS[None],
    )
    row = vip_associations(row, ctx.topology, lb.vip_network_id, lb.vip_subnet_id, len(add))
    return Outcome(LoadBalancerState(lb.id, (row,)), (report,))


def _find_vip_port(topo: Topology, network_id: str, address: str) -> str | None:
    found = topo.switch(ovn_name(network_id))
    if found is None:
        return None
    lsps = topo.nb.rows("Logical_Switch_Port")
    for u in found[1].get("ports", ()):
        lsp = lsps.get(u)
        if lsp and any(address in e.split() for e in lsp.get("addresses", ())):
            return str(lsp.get("name"))
    return None


def lb_update(ctx: Context, state: LoadBalancerState | None, upd: Update[LoadBalancer]) -> Outcome:
    """``loadbalancer_update``: only the admin state reaches OVN."""
    lb = upd.new
    if "admin_state_up" not in upd.changed:
        return Outcome(state, ({"loadbalancers": [entry(lb.id)]},))
    operating = "ONLINE" if lb.admin_state_up else "OFFLINE"
    report: Payload = {"loadbalancers": [entry(lb.id, ACTIVE, operating)]}
    if state is None:
        return Outcome(state, ({"loadbalancers": [entry(lb.id, ERROR, ERROR)]},))
    enabled = enabled_text(lb.admin_state_up)
    for row in state.rows:
        if row.enabled != enabled:
            state = state.replace(row, attrs.evolve(row, enabled=enabled))
    return Outcome(state, (report,))


def lb_delete(
    ctx: Context, state: LoadBalancerState | None, lb: LoadBalancer, cascade: bool = False
) -> Outcome:
    """``loadbalancer_delete``: every row goes (with its health checks and attachments)."""
    lb_entry = entry(lb.id, DELETED, "OFFLINE")
    if state is None or not state.rows:
        return Outcome(
            None, ({"loadbalancers": [lb_entry], "listeners": [], "pools": [], "members": []},)
        )
    report: Payload = {"loadbalancers": [lb_entry]}
    if cascade:
        listeners = [entry(li.id, DELETED, "OFFLINE") for li in lb.listeners]
        pools = [entry(p.id, DELETED) for p in lb.pools]
        members = [entry(m.id, DELETED) for p in lb.pools for m in p.members]
        hms = [
            entry(p.healthmonitor.id, DELETED, "NO_MONITOR")
            for p in lb.pools
            if p.healthmonitor is not None
        ]
        for key, items in (
            ("listeners", listeners),
            ("pools", pools),
            ("members", members),
            ("healthmonitors", hms),
        ):
            if items:
                report[key] = items
    return Outcome(None, (report,))
