"""NB/SB row changes -> what to do to the load balancers they concern (pure).

The OVN provider driver's agent reacts to four kinds of database events
(reference-behavior.md 3.6, 4.4, 6.1, 6.4). This module turns one changed
row (old and new value, canonical form of :mod:`ovnlb_core.nb`) plus the
current NB rows into :class:`LbAction` values: one request closure per load
balancer, run like any Octavia request (read -> parse -> closure ->
translate -> plan -> one transaction). :func:`plan_action` computes the plan
of an action without I/O; :mod:`ovnlb_backends.service.watch` applies them.

Router-interface handlers are *event based*, as the reference's (spec 3.6):
a ``Logical_Router_Port`` created or deleted changes the associations of
the load balancers on that router or network, and the result depends on
the history (a deleted member's router stays, spec 3.5). Each action is
still idempotent (applied twice, the second plans nothing). The other
handlers are *level based*: they compare what the rows say with what the
NAT and Service_Monitor rows say now, so an event seen late (or the start-up
catch-up, :func:`catch_up_actions`) has the same result as one seen live,
and a watcher may drop events while it does not hold the lock. For router
associations the catch-up only completes what no history leaves
(:func:`settle_routers`, the rule ``ovnlb sync`` accepts too).

Deviations from the reference (spec section 10):

* B33: a removed router interface detaches the load balancer only from the
  router and from the switches it reached only through that router; its
  VIP and member switches stay. The router stays while another of its
  interfaces serves a VIP or member subnet of the row. U4: a switch another
  of the LB's routers still reaches stays. A gateway port's event does
  nothing (no router interface, spec 3.2).
* B31: the VIP's floating IPs are reconciled with the ``NAT`` rows of the VIP
  ports: a FIP changed from A to B removes A (keys, ``vips`` entries, health
  check copies) and adds B; repeated events change nothing.
* B32: VIP ports are found through the rows' ``neutron:vip_port_id`` /
  ``neutron:additional_vip_port_ids`` as well, so user-supplied ports work.
* B19/B20: member FIP centralisation looks at every member of the load
  balancer, and also runs when the member's FIP or the VIP's FIP appears
  after the member was created.
* B16-B18: see :func:`ovnlb_core.requests.member_health`, reused here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from ovnlb_core import requests as rq
from ovnlb_core.model import LoadBalancerState, ProtocolRow
from ovnlb_core.nb import NbReader, Row
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.pipeline import RequestFn, plan_request_in
from ovnlb_core.plan import LbRowSet, NatUpdate, Plan
from ovnlb_core.rows import find_lbs_by_mapping
from ovnlb_core.status import Payload
from ovnlb_core.topology import DEVICE_OWNER_RI, Subnet, Topology, interface_cidrs, ovn_name
from ovnlb_core.translate import bracket, vip_list

Kind = Literal["router_interface", "vip_fip", "member_fip", "member_health", "catch_up"]

VIP_PORT_PREFIX = "ovn-lb-vip-"
FIP_PORT_KEY = "neutron:fip_port_id"
PORT_FIP_KEY = "neutron:port_fip"


@attrs.frozen
class RowChange:
    """One changed row: ``old`` is None for a created row, ``new`` None for a deleted one."""

    table: str
    uuid: str
    old: Row | None
    new: Row | None

    @property
    def rows(self) -> list[Row]:
        """The old and the new value, whichever exist."""
        return [r for r in (self.old, self.new) if r is not None]


@attrs.frozen(eq=False)
class LbAction:
    """A request closure for one load balancer, caused by an event.

    ``report``: the statuses the closure returns are to be sent even when
    the rows do not change (a live Service_Monitor event; the reference
    reports every event that matched a member).
    """

    lb_id: str
    kind: Kind
    fn: RequestFn
    report: bool = False
    #: What the action is limited to (e.g. ``router|switch``); part of :func:`dedupe`'s key.
    scope: str = ""


# -- applying an action (pure) -----------------------------------------------------------------


@attrs.frozen
class ActionPlan:
    """What an action does to the rows read now: the basis, the plan and the outcome."""

    actual: LbRowSet
    plan: Plan
    outcome: rq.Outcome


def plan_action(
    reader: NbReader,
    action: LbAction,
    subnets: Mapping[str, Subnet] | None = None,
    view: OctaviaView | None = None,
) -> ActionPlan:
    """The plan of ``action`` against the rows ``reader`` shows (one transaction).

    The request pipeline of every request (:func:`ovnlb_core.pipeline.plan_request_in`);
    a load balancer gone meanwhile gets no rows written.
    """
    p = plan_request_in(reader, action.lb_id, action.fn, subnets, view, needs_rows=True)
    return ActionPlan(p.actual, p.plan, p.outcome)


def _compose(*fns: RequestFn) -> RequestFn:
    """Run request closures one after the other on the same state; statuses and NATs add up."""

    def run(ctx: rq.Context, state: LoadBalancerState | None) -> rq.Outcome:
        statuses: list[Payload] = []
        nats: list[NatUpdate] = []
        for fn in fns:
            out = fn(ctx, state)
            state = out.state
            statuses += out.statuses
            nats += [n for n in out.nat_updates if n not in nats]
        return rq.Outcome(state, tuple(statuses), tuple(nats))

    return run


# -- helpers on rows -----------------------------------------------------------------------------


def _lb_names_of(reader: NbReader, uuids: Iterable[str]) -> list[str]:
    table = reader.rows("Load_Balancer")
    out: list[str] = []
    for u in uuids:
        row = table.get(u)
        if row is not None:
            name = str(row.get("name", ""))
            if name and name not in out:
                out.append(name)
    return out


def _holder_lbs(reader: NbReader, table: str, name: str) -> list[str]:
    """Names of the load balancers attached to the switch or router ``name``."""
    uuids: list[str] = []
    for _u, row in reader.by_name(table, name):
        uuids += list(row.get("load_balancer", ()))
    return _lb_names_of(reader, uuids)


def _referrers(reader: NbReader, table: str, column: str, uuid: str) -> list[tuple[str, Row]]:
    return reader.referrers(table, column, uuid)


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


def _vip_version(row: ProtocolRow) -> int:
    return 6 if row.vip and ":" in row.vip else 4


# -- (a) router interfaces (spec 3.6, without B33) -------------------------------------------------


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
            holders = _referrers(topo.nb, "Logical_Switch", "ports", u)
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
            for _ru, lr in _referrers(topo.nb, "Logical_Router", "ports", u):
                return str(lr.get("name", ""))
    device = lsp.get("external_ids", {}).get("neutron:device_id")
    return ovn_name(device) if device else None


def _own_switches(row: ProtocolRow, topo: Topology) -> list[str]:
    """Switches the row has a reason of its own to be on: its ``ls_refs`` (VIP, members)."""
    return [ls for ls in row.ls_ref_counts() if topo.switch_exists(ls) and not topo.is_provider(ls)]


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
    version = _vip_version(row)
    routers = set(row.routers)
    lr_ref = list(row.lr_ref or ())
    for lr in required_routers(row, topo):
        routers.add(lr)
        if lr not in lr_ref:
            lr_ref.append(lr)
    switches = set(row.switches)
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
    routers = set(row.routers)
    switches = set(row.switches)
    lr_ref = list(row.lr_ref or ())
    if ls in switches and lr not in routers:
        routers.add(lr)
        switches.update(topo.switches_of_router(lr, _vip_version(row)))
        if lr not in lr_ref:
            lr_ref.append(lr)
    elif lr in routers and ls not in switches and topo.switch_exists(ls):
        switches.add(ls)
    return _with_routers(row, routers, switches, lr_ref)


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


def _rows_fn(fn: Callable[[ProtocolRow, Topology], ProtocolRow]) -> RequestFn:
    def run(ctx: rq.Context, state: LoadBalancerState | None) -> rq.Outcome:
        if state is None:
            return rq.Outcome(state)
        for row in state.rows:
            new = fn(row, ctx.topology)
            if new is not row:
                state = state.replace(row, new)
        return rq.Outcome(state)

    return run


def _lrp_ends(reader: NbReader, uuid: str, lrp: Row) -> tuple[str | None, str | None, bool]:
    """``(router, switch, is gateway)`` of a Logical_Router_Port row (spec 3.6)."""
    topo = Topology(reader)
    ext = lrp.get("external_ids", {})
    lr: str | None = None
    if ext.get("neutron:router_name"):
        lr = ovn_name(ext["neutron:router_name"])
    else:
        holders = _referrers(reader, "Logical_Router", "ports", uuid)
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

    fn = _rows_fn(one)
    scope = f"{op}|{lr}|{ls}|{uuid}"
    return [LbAction(name, "router_interface", fn, scope=scope) for name in _lbs_of(reader, lr, ls)]


def _lbs_of(reader: NbReader, lr: str, ls: str) -> list[str]:
    lbs = _holder_lbs(reader, "Logical_Router", lr)
    return lbs + [n for n in _holder_lbs(reader, "Logical_Switch", ls) if n not in lbs]


# -- (b) floating IPs of VIP ports (spec 6.1, 6.2, without B31/B32) ------------------------------


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


def _nat_relevant(change: RowChange) -> bool:
    if change.old is None or change.new is None:
        return True
    return any(
        change.old.get(c) != change.new.get(c)
        for c in ("external_ip", "logical_ip", "type", "external_ids")
    )


def vip_fip_actions(reader: NbReader, change: RowChange) -> list[LbAction]:
    """A FIP NAT row of a VIP port created, changed or deleted (or the VIP LSP's
    ``neutron:port_fip`` changed): reconcile that load balancer's VIP FIPs."""
    ports: list[str] = []
    if change.table == "NAT":
        if not _nat_relevant(change):
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


# -- (c) member floating IPs under DVR (spec 6.4, without B19/B20) --------------------------------


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
    if change.table != "NAT" or change.new is None or not _nat_relevant(change):
        return []
    port = change.new.get("external_ids", {}).get(FIP_PORT_KEY)
    if not port:
        return []
    out: list[LbAction] = []
    for u, _lsp in reader.by_name("Logical_Switch_Port", str(port)):
        for _su, ls in _referrers(reader, "Logical_Switch", "ports", u):
            for name in _holder_lbs(reader, "Logical_Switch", str(ls.get("name", ""))):
                if not any(a.lb_id == name for a in out):
                    out.append(LbAction(name, "member_fip", centralise_member_fips))
    return out


# -- (d) SB Service_Monitor (spec 4.4, 4.5, without B16-B18) --------------------------------------


def _sm_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return value[0] if value else None
    return value


def service_monitor_event(row: Row, deleted: bool = False) -> dict[str, Any]:
    """A SB ``Service_Monitor`` row as a ``member_health`` event (conformance-format 5.2)."""
    return {
        "type": "delete" if deleted else "update",
        "row": {
            "ip": str(row.get("ip", "")),
            "port": int(row.get("port", 0) or 0),
            "protocol": _sm_value(row.get("protocol")) or "tcp",
            "logical_port": str(row.get("logical_port", "")),
            "src_ip": str(row.get("src_ip", "")),
            "status": _sm_value(row.get("status")),
        },
    }


def service_monitor_events(change: RowChange) -> list[dict[str, Any]]:
    """The ``member_health`` events of a Service_Monitor change.

    Created and updated rows are ``update`` events (a row ovn-northd creates
    already carries a status, or none: up); deleted rows ``delete`` events. A
    change of the identity columns is a delete of the old backend and an
    update of the new one. A change that touches none of the columns the
    status depends on gives nothing.
    """
    ident = ("ip", "port", "protocol", "logical_port", "src_ip")
    if change.new is None:
        return [service_monitor_event(change.old, deleted=True)] if change.old else []
    if change.old is None:
        return [service_monitor_event(change.new)]
    if any(change.old.get(c) != change.new.get(c) for c in ident):
        return [service_monitor_event(change.old, deleted=True), service_monitor_event(change.new)]
    if _sm_value(change.old.get("status")) == _sm_value(change.new.get("status")):
        return []
    return [service_monitor_event(change.new)]


def _health_fn(event: Mapping[str, Any]) -> RequestFn:
    row = event["row"]
    deleted = event.get("type") == "delete"

    def fn(ctx: rq.Context, state: LoadBalancerState | None) -> rq.Outcome:
        if state is None:
            return rq.Outcome(state)
        new, reports = rq.member_health(
            ctx,
            state,
            row["ip"],
            int(row["port"]),
            row["protocol"],
            row["logical_port"],
            row["src_ip"],
            row.get("status"),
            deleted,
        )
        return rq.Outcome(new, (rq.merge_payloads(reports),) if reports else ())

    return fn


def member_health_actions(
    reader: NbReader, event: Mapping[str, Any], report: bool = True
) -> list[LbAction]:
    """One action per load balancer whose ``ip_port_mappings`` name the monitored backend."""
    row = event["row"]
    key = bracket(row["ip"])
    value = f"{row['logical_port']}:{bracket(row['src_ip'])}"
    return [
        LbAction(name, "member_health", _health_fn(event), report)
        for name in find_lbs_by_mapping(reader, key, value, row["protocol"])
    ]


# -- dispatch and catch-up ----------------------------------------------------------------------

NB_TABLES = ("Logical_Router_Port", "Logical_Switch_Port", "NAT")


def nb_actions(reader: NbReader, change: RowChange) -> list[LbAction]:
    """Every action an NB row change calls for (router interfaces, VIP FIPs, member FIPs)."""
    if change.table == "Logical_Router_Port":
        return router_interface_actions(reader, change)
    if change.table == "Logical_Switch_Port":
        return router_interface_actions(reader, change) + vip_fip_actions(reader, change)
    if change.table == "NAT":
        acts = vip_fip_actions(reader, change)
        vip_lbs = {a.lb_id for a in acts}
        return acts + [a for a in member_fip_actions(reader, change) if a.lb_id not in vip_lbs]
    return []


def sb_actions(reader: NbReader, change: RowChange, report: bool = True) -> list[LbAction]:
    """Every action a SB ``Service_Monitor`` change calls for, in event order."""
    if change.table != "Service_Monitor":
        return []
    out: list[LbAction] = []
    for event in service_monitor_events(change):
        out += member_health_actions(reader, event, report)
    return out


def catch_up_actions(
    reader: NbReader, lb_names: Iterable[str], service_monitors: Iterable[Row] = ()
) -> list[LbAction]:
    """What a watcher applies on start: every load balancer's routers, VIP FIPs and member FIPs
    reconciled, then every Service_Monitor row's status (reported only when it changes a row).

    Service_Monitor rows deleted while nobody watched are not detected (the
    member keeps its last status until a new Service_Monitor event).
    """
    out = [
        LbAction(name, "catch_up", _compose(_rows_fn(settle_routers), reconcile_vip_fips))
        for name in lb_names
    ]
    for sm in service_monitors:
        out += member_health_actions(reader, service_monitor_event(sm), report=False)
    return out


def dedupe(actions: Sequence[LbAction]) -> list[LbAction]:
    """Drop repeated level-based actions (same LB, kind and scope), keeping the first.

    Service_Monitor actions are kept in order: each carries its own event.
    """
    seen: set[tuple[str, str, str]] = set()
    out: list[LbAction] = []
    for a in actions:
        if a.kind != "member_health":
            key = (a.lb_id, a.kind, a.scope)
            if key in seen:
                continue
            seen.add(key)
        out.append(a)
    return out


__all__ = [
    "ActionPlan",
    "LbAction",
    "RowChange",
    "catch_up_actions",
    "centralise_member_fips",
    "dedupe",
    "interface_added",
    "interface_removed",
    "member_fip_actions",
    "member_fip_updates",
    "member_health_actions",
    "nb_actions",
    "plan_action",
    "reconcile_vip_fips",
    "required_routers",
    "router_interface_actions",
    "router_interfaces",
    "router_reach",
    "routers_on_switch",
    "sb_actions",
    "service_monitor_event",
    "service_monitor_events",
    "settle_routers",
    "vip_fip_actions",
]
