"""Router interfaces (spec 3.6, deviations B33/U4): everything about which routers and
switches a load balancer is associated with after a router-interface event lives here.

Event based, as the reference: a ``Logical_Router_Port`` created or deleted changes
the associations of the load balancers on that router or network
(:func:`interface_added`, :func:`interface_removed`); :func:`settle_routers` is the
history-free completion a watcher's catch-up applies (and ``ovnlb sync`` accepts).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

import attrs

from ovnlb_core import requests as rq
from ovnlb_core.events.lookup import holder_lbs
from ovnlb_core.events.model import LbAction, RowChange, rows_fn
from ovnlb_core.formats import vip_version
from ovnlb_core.model import ProtocolRow
from ovnlb_core.nb import NbReader, Row
from ovnlb_core.topology import DEVICE_OWNER_RI, Topology, interface_cidrs, ovn_name
from ovnlb_core.translate import vip_list

__all__ = [
    "interface_added",
    "interface_removed",
    "required_routers",
    "router_interface_actions",
    "router_interfaces",
    "router_reach",
    "routers_on_switch",
    "settle_routers",
]


def _in_cidrs(address: str, cidrs: Iterable[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for c in cidrs:
        try:
            if ip in ipaddress.ip_network(c, strict=False):
                return True
        except ValueError:
            continue
    return False


def _is_gateway_lrp(lrp: Row) -> bool:
    ext = lrp.get("external_ids", {})
    return bool(
        lrp.get("gateway_chassis")
        or lrp.get("ha_chassis_group")
        or str(ext.get("neutron:is_ext_gw", "")).lower() == "true"
    )


def router_interfaces(topo: Topology, lr_name: str) -> list[tuple[str, tuple[str, ...]]]:
    """``(switch name, CIDRs)`` of every router-interface (non-gateway) port of the router
    (CIDRs: :func:`~ovnlb_core.topology.interface_cidrs`, the rule the request path uses).

    The switch is the LRP's ``neutron:network_name``, else the switch holding
    the LSP that names the LRP in ``options:router-port``.
    """
    found = topo.nb.by_name("Logical_Router", lr_name)
    if not found:
        return []
    lrps = topo.nb.rows("Logical_Router_Port")
    out: list[tuple[str, tuple[str, ...]]] = []
    for u in found[0][1].get("ports", ()):
        lrp = lrps.get(u)
        if lrp is None or _is_gateway_lrp(lrp):
            continue
        net = lrp.get("external_ids", {}).get("neutron:network_name")
        ls = ovn_name(net) if net else _switch_of_peer(topo, str(lrp.get("name", "")))
        if ls:
            out.append((ls, interface_cidrs(_peer_lsp(topo, str(lrp.get("name", ""))), lrp)))
    return out


def _peer_lsp(topo: Topology, lrp_name: str) -> Row | None:
    """The router-type LSP whose ``options:router-port`` names the LRP."""
    peer = lrp_name[4:] if lrp_name.startswith("lrp-") else lrp_name
    for _u, lsp in topo.nb.by_name("Logical_Switch_Port", peer):
        if lsp.get("options", {}).get("router-port") == lrp_name:
            return lsp
    return None


def _switch_of_peer(topo: Topology, lrp_name: str) -> str | None:
    peer = lrp_name[4:] if lrp_name.startswith("lrp-") else lrp_name
    for u, lsp in topo.nb.by_name("Logical_Switch_Port", peer):
        if lsp.get("options", {}).get("router-port") == lrp_name:
            holders = topo.nb.referrers("Logical_Switch", "ports", u)
            if holders:
                return str(holders[0][1].get("name", ""))
    return None


def routers_on_switch(topo: Topology, ls_name: str) -> list[str]:
    """Routers with a router-interface LSP on the switch (any CIDR)."""
    found = topo.switch(ls_name)
    if found is None:
        return []
    lsps = topo.nb.rows("Logical_Switch_Port")
    out: list[str] = []
    for u in found[1].get("ports", ()):
        lsp = lsps.get(u)
        if lsp is None or lsp.get("type") != "router":
            continue
        if lsp.get("external_ids", {}).get("neutron:device_owner") != DEVICE_OWNER_RI:
            continue
        lr = _router_of_lsp(topo, lsp)
        if lr and lr not in out:
            out.append(lr)
    return out


def _router_of_lsp(topo: Topology, lsp: Row) -> str | None:
    lrp_name = lsp.get("options", {}).get("router-port", "")
    if lrp_name:
        for u, _lrp in topo.nb.by_name("Logical_Router_Port", lrp_name):
            for _ru, lr in topo.nb.referrers("Logical_Router", "ports", u):
                return str(lr.get("name", ""))
    device = lsp.get("external_ids", {}).get("neutron:device_id")
    return ovn_name(device) if device else None


def _own_switches(row: ProtocolRow, topo: Topology) -> list[str]:
    """Switches the row has a reason of its own to be on: its ``ls_refs`` (VIP, members)."""
    return [ls for ls in row.ls_ref_counts() if rq.counts_switch(topo, ls)]


def _addresses(row: ProtocolRow) -> list[str]:
    return vip_list(row) + [m.address for _p, m in row.all_members()]


def _router_wanted(row: ProtocolRow, topo: Topology, lr: str, own: Sequence[str]) -> bool:
    """True when an interface of ``lr`` is on an own switch, on a subnet holding a VIP or member
    address (the rule of LB and member creation, spec 3.3/3.4)."""
    if not topo.router_exists(lr):
        return False
    addrs = _addresses(row)
    for ls, cidrs in router_interfaces(topo, lr):
        if ls in own and any(_in_cidrs(a, cidrs) for a in addrs):
            return True
    return False


def required_routers(row: ProtocolRow, topo: Topology) -> list[str]:
    """Routers the row must be on whatever its history: those :func:`_router_wanted` names."""
    own = _own_switches(row, topo)
    candidates: set[str] = set(row.routers)
    for ls in own:
        candidates.update(routers_on_switch(topo, ls))
    return [lr for lr in sorted(candidates) if _router_wanted(row, topo, lr, own)]


def router_reach(topo: Topology, routers: Iterable[str]) -> set[str]:
    """Switches behind the routers, both families (an interface event adds a router's new
    network whatever its family, spec 3.6)."""
    out: set[str] = set()
    for lr in routers:
        out.update(topo.switches_of_router(lr, 4))
        out.update(topo.switches_of_router(lr, 6))
    return out


def _with_routers(
    row: ProtocolRow, routers: set[str], switches: set[str], lr_ref: Sequence[str]
) -> ProtocolRow:
    if (
        routers == set(row.routers)
        and switches == set(row.switches)
        and tuple(lr_ref) == tuple(row.lr_ref or ())
    ):
        return row
    return attrs.evolve(
        row,
        routers=frozenset(routers),
        switches=frozenset(switches),
        lr_ref=tuple(lr_ref) or None,
    )


def settle_routers(row: ProtocolRow, topo: Topology) -> ProtocolRow:
    """The row's associations completed, never undone where a history could have left them
    (a watcher's catch-up, events it may have missed).

    Router associations depend on the history (spec 3.5 leaves a deleted member's routers,
    3.6 adds the LBs of a switch whatever their addresses), so only what no history leaves
    is changed: a :func:`required_routers` router missing is added with its switches of the
    VIP's family (spec 1.8), every router keeps those switches, and a switch that is neither
    own (``ls_refs``) nor behind one of the row's routers is detached. ``ovnlb sync``
    accepts the same (:func:`ovnlb_core.sync.harmonize`).
    """
    links = rq.Associations(row)
    for lr in required_routers(row, topo):
        links.associate_lr(topo, lr)
    joined = links.finish()
    version = vip_version(row.vip)
    routers = set(joined.routers)
    lr_ref = list(joined.lr_ref or ())
    switches = set(joined.switches)
    for lr in routers:
        switches.update(topo.switches_of_router(lr, version))
    keep = set(_own_switches(row, topo)) | router_reach(topo, routers)
    switches &= keep
    return _with_routers(row, routers, switches, lr_ref)


def interface_added(
    row: ProtocolRow, topo: Topology, lr: str, ls: str, ext_gw: bool
) -> ProtocolRow:
    """Spec 3.6, LRP created: a row on the network but not on the router is associated with
    the router (its switches of the VIP's family, ``lr_ref``, spec 1.8); unless the port is a
    gateway port, a row on the router but not on the network is added to the network
    (``ls_refs`` unchanged, no family test)."""
    if not topo.router_exists(lr) or ext_gw:
        # A gateway port is no router interface (spec 3.2): requests and sync never
        # associate through it, so neither does its event (compat.md).
        return row
    if ls in row.switches and lr not in row.routers:
        return rq.associate_lr(row, topo, lr)
    if lr in row.routers and ls not in row.switches and topo.switch_exists(ls):
        return attrs.evolve(row, switches=row.switches | {ls})
    return row


def interface_removed(row: ProtocolRow, topo: Topology, lr: str, ls: str) -> ProtocolRow:
    """Spec 3.6, LRP deleted (the LRP is gone from ``topo``).

    A row on the network that counts it in ``ls_refs`` is disassociated from the router
    (spec 1.8). Deviations: B33, only switches reached solely through that router are
    detached (own switches stay); and the router stays while another of its interfaces
    still serves a VIP or member subnet of the row (the rule of creation, spec 3.3/3.4), so
    that the row keeps every router its addresses need.
    Any other row on the router leaves the network, unless one of its other routers still
    reaches it (U4 not reproduced).
    """
    routers = set(row.routers)
    switches = set(row.switches)
    lr_ref = list(row.lr_ref or ())
    own = _own_switches(row, topo)
    if ls in row.ls_ref_counts():
        if lr not in routers and lr not in lr_ref:
            return row
        if topo.router_exists(lr) and _router_wanted(row, topo, lr, own):
            return row
        routers.discard(lr)
        lr_ref = [x for x in lr_ref if x != lr]
        keep = set(own) | router_reach(topo, routers)
        for s in router_reach(topo, [lr]):
            if s not in keep:
                switches.discard(s)
    elif (
        lr in routers
        and ls in switches
        and ls not in own
        and ls not in router_reach(topo, routers - {lr})
    ):
        switches.discard(ls)
    return _with_routers(row, routers, switches, lr_ref)


def _lrp_ends(reader: NbReader, uuid: str, lrp: Row) -> tuple[str | None, str | None, bool]:
    """``(router, switch, is gateway)`` of a Logical_Router_Port row (spec 3.6)."""
    topo = Topology(reader)
    ext = lrp.get("external_ids", {})
    lr: str | None = None
    if ext.get("neutron:router_name"):
        lr = ovn_name(ext["neutron:router_name"])
    else:
        holders = reader.referrers("Logical_Router", "ports", uuid)
        lr = str(holders[0][1].get("name", "")) if holders else None
    net = ext.get("neutron:network_name")
    ls = ovn_name(net) if net else _switch_of_peer(topo, str(lrp.get("name", "")))
    return lr or None, ls or None, _is_gateway_lrp(lrp)


def router_interface_actions(reader: NbReader, change: RowChange) -> list[LbAction]:
    """A ``Logical_Router_Port`` created or deleted (spec 3.6, the agent's only router event).

    Event based, as the reference: the load balancers on the router or on the network get
    :func:`interface_added` or :func:`interface_removed`; each is idempotent (applied twice,
    the second plans nothing). An update that moves the port (router, network, gateway) is
    a delete of the old value and a create of the new one; other updates and
    ``Logical_Switch_Port`` changes do nothing.
    """
    if change.table != "Logical_Router_Port":
        return []
    old = _lrp_ends(reader, change.uuid, change.old) if change.old is not None else None
    new = _lrp_ends(reader, change.uuid, change.new) if change.new is not None else None
    if old == new:
        return []
    out: list[LbAction] = []
    if old is not None and old[0] and old[1]:
        out += _interface_actions(reader, "remove", old[0], old[1], old[2], change.uuid)
    if new is not None and new[0] and new[1]:
        out += _interface_actions(reader, "add", new[0], new[1], new[2], change.uuid)
    return out


def _interface_actions(
    reader: NbReader, op: str, lr: str, ls: str, gw: bool, uuid: str
) -> list[LbAction]:
    def one(row: ProtocolRow, topo: Topology) -> ProtocolRow:
        if op == "add":
            return interface_added(row, topo, lr, ls, gw)
        return interface_removed(row, topo, lr, ls)

    fn = rows_fn(one)
    scope = f"{op}|{lr}|{ls}|{uuid}"
    return [LbAction(name, "router_interface", fn, scope=scope) for name in _lbs_of(reader, lr, ls)]


def _lbs_of(reader: NbReader, lr: str, ls: str) -> list[str]:
    lbs = holder_lbs(reader, "Logical_Router", lr)
    return lbs + [n for n in holder_lbs(reader, "Logical_Switch", ls) if n not in lbs]
