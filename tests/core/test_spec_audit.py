"""Spec audit: one small pure test per rule of ``reference-behavior.md`` that the public
conformance files do not pin.

Every expected value is typed from the spec text (section named at each test), never
copied from ovnlb's output. Where ``docs/compat.md`` records a deliberate deviation
(spec section 10), the corrected behaviour is expected and the bug is named. A test
marked ``xfail(strict=True)`` is a place where ovnlb disagrees with the spec and the spec
lists no bug for it: the reason names the section and the difference.

Pure: requests of :mod:`ovnlb_core.requests` run on a state, and between two requests the
state goes through NB rows and back (``translate`` then ``parse``), as a driver re-reads
NB. The topology is the walkthrough's (spec 11.1: VIP subnet and member subnet behind one
router) plus an isolated IPv4 network without router, an IPv6 network, and ports for
members and health-monitor sources on each.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_core import events as ev
from ovnlb_core import requests as rq
from ovnlb_core.errors import (
    IPVersionsMixingNotSupportedError,
    UnsupportedOptionError,
    ValidationError,
)
from ovnlb_core.model import LoadBalancerState
from ovnlb_core.nb import NbSnapshot, full_row
from ovnlb_core.octavia import (
    HealthMonitor,
    Listener,
    LoadBalancer,
    Member,
    OctaviaView,
    Pool,
    update_of,
)
from ovnlb_core.parse import parse
from ovnlb_core.plan import LoadBalancerRow
from ovnlb_core.rows import lb_rowset
from ovnlb_core.topology import Subnet, Topology
from ovnlb_core.translate import translate

# -- identifiers -------------------------------------------------------------------------------

L = demo.LB
VIP = "172.24.4.9"
P = demo.VIP_PORT
N = demo.NET
VIP_SUBNET = demo.VIP_SUBNET
MN = demo.MEMBER_NET
MS = demo.MEMBER_SUBNET
R = demo.ROUTER
LS_VIP = f"neutron-{N}"
LS_MEMBER = f"neutron-{MN}"
LR = f"neutron-{R}"


def _u(n: int) -> str:
    return f"6c1b2a3d-0000-4000-8000-{n:012x}"


ISO = _u(0xA1)  # isolated IPv4 network (no router)
ISO_S = _u(0xA2)
V6N = _u(0xB1)  # IPv6 network (no router)
V6S = _u(0xB2)
R2N = _u(0xA3)  # IPv4 network behind a second router R2
R2S = _u(0xA4)
R2 = _u(0xA5)  # router with interfaces on R2N (IPv4) and on the IPv6 network
RI_R2 = _u(0xA6)
RI_R2_V6 = _u(0xA7)
LS_ISO = f"neutron-{ISO}"
LS_V6 = f"neutron-{V6N}"
LS_R2 = f"neutron-{R2N}"
LR2 = f"neutron-{R2}"

VM_VIPNET = _u(0xC1)  # 172.24.4.20 on the VIP subnet
HM_VIPNET = _u(0xC2)  # ovn-lb-hm-<VIP_SUBNET>, 172.24.4.3
VM2 = _u(0xC3)  # 10.10.10.11 on the member subnet
ISO_VM = _u(0xC4)  # 10.20.0.10
ISO_HM = _u(0xC5)  # ovn-lb-hm-<ISO_S>, 10.20.0.3
ISO_VIP = _u(0xC6)  # 10.20.0.9
V6_VIP = _u(0xC7)  # fd00:10::9
V6_VM1 = _u(0xC8)  # fd00:10::20
V6_VM2 = _u(0xC9)  # fd00:10::21
V6_HM = _u(0xCA)  # ovn-lb-hm-<V6S>, fd00:10::3
ADD_VIP_PORT = _u(0xCB)  # 172.24.4.30, an additional VIP on the VIP subnet
V6_ADD_VIP = _u(0xCC)  # fd00:10::30, an additional IPv6 VIP
R2_VM = _u(0xCD)  # 10.30.0.10 behind R2
R2_HM = _u(0xCE)  # ovn-lb-hm-<R2S>, 10.30.0.3

LI = demo.LISTENER
LI2 = _u(0xD1)
LI_UDP = _u(0xD2)
PO = demo.POOL
PO2 = _u(0xE1)
PO_UDP = _u(0xE2)
M1 = demo.MEMBER
M2 = _u(0xF1)
M3 = _u(0xF2)
HM = demo.HM
HM2 = _u(0xF8)
FIP = "203.0.113.10"
FIP2 = "203.0.113.20"

FIELDS_4 = ("ip_dst", "ip_src", "tp_dst", "tp_src")
FIELDS_2 = ("ip_dst", "ip_src")
HC_OPTS = {"interval": "10", "timeout": "5", "success_count": "3", "failure_count": "3"}


# -- topology ----------------------------------------------------------------------------------


def _lsp(port: str, net: str, address: str, name: str = "") -> dict[str, Any]:
    return {
        "name": port,
        "addresses": [f"fa:16:3e:00:{int(port[-2:], 16):02x}:01 {address}"],
        "external_ids": {
            "neutron:cidrs": f"{address}/64" if ":" in address else f"{address}/24",
            "neutron:device_owner": "ovn-lb-hm:distributed" if name else "compute:nova",
            "neutron:network_name": f"neutron-{net}",
            "neutron:port_name": name,
            "neutron:project_id": demo.PROJECT,
        },
    }


def _router_interface(
    port: str, net: str, cidr: str, router: str = LR2
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The LSP (type router) and the LRP Neutron writes for a router interface (3.1)."""
    lsp = {
        "name": port,
        "type": "router",
        "addresses": ["router"],
        "options": {"router-port": f"lrp-{port}"},
        "external_ids": {
            "neutron:cidrs": cidr,
            "neutron:device_owner": "network:router_interface",
            "neutron:network_name": f"neutron-{net}",
        },
    }
    lrp = {
        "name": f"lrp-{port}",
        "mac": "fa:16:3e:00:00:a6",
        "networks": [cidr],
        "external_ids": {
            "neutron:network_name": f"neutron-{net}",
            "neutron:router_name": router,
            "neutron:is_ext_gw": "False",
        },
    }
    return lsp, lrp


#: The topology rows as Neutron writes them (only the columns it sets), by table and name.
RAW_TABLES: dict[str, dict[str, dict[str, Any]]] = {}


def _topology() -> Topology:
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for op in demo.topology_ops():
        row = dict(op["row"])
        uuid = row.pop("_name")
        tables.setdefault(op["table"], {})[uuid] = dict(row)
    ports = {
        VM_VIPNET: _lsp(VM_VIPNET, N, "172.24.4.20"),
        HM_VIPNET: _lsp(HM_VIPNET, N, "172.24.4.3", f"ovn-lb-hm-{VIP_SUBNET}"),
        ADD_VIP_PORT: _lsp(ADD_VIP_PORT, N, "172.24.4.30"),
        VM2: _lsp(VM2, MN, "10.10.10.11"),
        ISO_VM: _lsp(ISO_VM, ISO, "10.20.0.10"),
        ISO_HM: _lsp(ISO_HM, ISO, "10.20.0.3", f"ovn-lb-hm-{ISO_S}"),
        ISO_VIP: _lsp(ISO_VIP, ISO, "10.20.0.9"),
        V6_VIP: _lsp(V6_VIP, V6N, "fd00:10::9"),
        V6_VM1: _lsp(V6_VM1, V6N, "fd00:10::20"),
        V6_VM2: _lsp(V6_VM2, V6N, "fd00:10::21"),
        V6_HM: _lsp(V6_HM, V6N, "fd00:10::3", f"ovn-lb-hm-{V6S}"),
        V6_ADD_VIP: _lsp(V6_ADD_VIP, V6N, "fd00:10::30"),
        R2_VM: _lsp(R2_VM, R2N, "10.30.0.10"),
        R2_HM: _lsp(R2_HM, R2N, "10.30.0.3", f"ovn-lb-hm-{R2S}"),
    }
    lsp4, lrp4 = _router_interface(RI_R2, R2N, "10.30.0.1/24")
    lsp6, lrp6 = _router_interface(RI_R2_V6, V6N, "fd00:10::1/64")
    ports[RI_R2] = lsp4
    ports[RI_R2_V6] = lsp6
    tables["Logical_Router_Port"][lrp4["name"]] = lrp4
    tables["Logical_Router_Port"][lrp6["name"]] = lrp6
    tables["Logical_Router"][LR2] = {"name": LR2, "ports": [lrp4["name"], lrp6["name"]]}
    tables["Logical_Switch_Port"].update(ports)
    switches = tables["Logical_Switch"]
    switches[LS_VIP]["ports"] = [*switches[LS_VIP]["ports"], VM_VIPNET, HM_VIPNET, ADD_VIP_PORT]
    switches[LS_MEMBER]["ports"] = [*switches[LS_MEMBER]["ports"], VM2]
    switches[LS_ISO] = {"name": LS_ISO, "ports": [ISO_VM, ISO_HM, ISO_VIP]}
    switches[LS_V6] = {
        "name": LS_V6,
        "ports": [V6_VIP, V6_VM1, V6_VM2, V6_HM, V6_ADD_VIP, RI_R2_V6],
    }
    switches[LS_R2] = {"name": LS_R2, "ports": [R2_VM, R2_HM, RI_R2]}
    RAW_TABLES.update(tables)
    full = {t: {u: full_row(t, r) for u, r in rows.items()} for t, rows in tables.items()}
    subnets = {
        **demo.SUBNETS,
        ISO_S: Subnet(ISO_S, ISO, "10.20.0.0/24"),
        V6S: Subnet(V6S, V6N, "fd00:10::/64"),
        R2S: Subnet(R2S, R2N, "10.30.0.0/24"),
    }
    return Topology(NbSnapshot(full), subnets)


TOPOLOGY = _topology()


# -- request objects (octavia-lib provider dicts) -------------------------------------------------


def lb_d(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "loadbalancer_id": L,
        "vip_address": VIP,
        "vip_port_id": P,
        "vip_network_id": N,
        "vip_subnet_id": VIP_SUBNET,
        "admin_state_up": True,
    }
    d.update(kw)
    return d


def li_d(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "listener_id": LI,
        "loadbalancer_id": L,
        "protocol": "TCP",
        "protocol_port": 80,
        "admin_state_up": True,
    }
    d.update(kw)
    return d


def pool_d(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "pool_id": PO,
        "loadbalancer_id": L,
        "listener_id": LI,
        "protocol": "TCP",
        "lb_algorithm": "SOURCE_IP_PORT",
        "admin_state_up": True,
    }
    d.update(kw)
    return d


def mem_d(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "member_id": M1,
        "pool_id": PO,
        "address": "10.10.10.10",
        "protocol_port": 8080,
        "subnet_id": MS,
        "admin_state_up": True,
    }
    d.update(kw)
    return d


def hm_d(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "healthmonitor_id": HM,
        "pool_id": PO,
        "type": "TCP",
        "delay": 10,
        "timeout": 5,
        "max_retries": 3,
        "max_retries_down": 3,
        "admin_state_up": True,
    }
    d.update(kw)
    return d


def st(oid: str, prov: str | None = "ACTIVE", oper: str | None = None) -> dict[str, str]:
    """A status entry as spec section 5 writes it."""
    out = {"id": oid}
    if prov is not None:
        out["provisioning_status"] = prov
    if oper is not None:
        out["operating_status"] = oper
    return out


class Bag(list[dict[str, Any]]):
    """A status list: the order of its entries carries no meaning (conformance-format 6.2),
    so it equals any list with the same entries."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, list):
            return NotImplemented
        return _entries(self) == _entries(other)

    def __ne__(self, other: object) -> bool:
        return not self == other


def _entries(items: list[Any]) -> list[str]:
    return sorted(json.dumps(x, sort_keys=True) for x in items)


def canon(p: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """A payload as conformance-format 6.2 compares it: each list a :class:`Bag`."""
    return {k: Bag(dict(x) for x in v) for k, v in p.items()}


# -- the harness ---------------------------------------------------------------------------------


class World:
    """One load balancer's NB state, requests applied one by one (rows re-read in between)."""

    def __init__(self, view: OctaviaView | None = None) -> None:
        self.ctx = rq.Context(TOPOLOGY, view or OctaviaView())
        self.state: LoadBalancerState | None = None
        self.last: rq.Outcome | None = None

    def run(self, fn: Callable[..., rq.Outcome], *args: Any) -> list[dict[str, Any]]:
        out = fn(self.ctx, self.state, *args)
        self.last = out
        if out.state is None or not out.state.rows:
            self.state = None
        else:
            self.state = parse(L, translate(out.state))
        return [canon(p) for p in out.statuses]

    # requests
    def lb_create(self, **kw: Any) -> list[dict[str, Any]]:
        return self.run(rq.lb_create, LoadBalancer.from_dict(lb_d(**kw)))

    def lb_update(self, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        return self.run(rq.lb_update, update_of(LoadBalancer, old, new))

    def listener_create(self, **kw: Any) -> list[dict[str, Any]]:
        return self.run(rq.listener_create, Listener.from_dict(li_d(**kw)))

    def listener_update(self, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        return self.run(rq.listener_update, update_of(Listener, old, new))

    def listener_delete(self, **kw: Any) -> list[dict[str, Any]]:
        return self.run(rq.listener_delete, Listener.from_dict(li_d(**kw)))

    def pool_create(self, **kw: Any) -> list[dict[str, Any]]:
        return self.run(rq.pool_create, Pool.from_dict(pool_d(**kw)))

    def pool_update(self, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        return self.run(rq.pool_update, update_of(Pool, old, new))

    def pool_delete(self, **kw: Any) -> list[dict[str, Any]]:
        return self.run(rq.pool_delete, Pool.from_dict(pool_d(**kw)))

    def member_create(self, **kw: Any) -> list[dict[str, Any]]:
        return self.run(rq.member_create, Member.from_dict(mem_d(**kw)))

    def member_update(self, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        return self.run(rq.member_update, update_of(Member, old, new))

    def member_delete(self, **kw: Any) -> list[dict[str, Any]]:
        return self.run(rq.member_delete, Member.from_dict(mem_d(**kw)))

    def batch(self, pool_id: str, members: list[dict[str, Any]]) -> list[dict[str, Any]]:
        objs = [Member.from_dict(m) for m in members]
        return self.run(rq.member_batch_update, pool_id, objs)

    def hm_create(self, **kw: Any) -> list[dict[str, Any]]:
        return self.run(rq.hm_create, HealthMonitor.from_dict(hm_d(**kw)))

    def hm_update(self, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        return self.run(rq.hm_update, update_of(HealthMonitor, old, new))

    def hm_delete(self, **kw: Any) -> list[dict[str, Any]]:
        return self.run(rq.hm_delete, HealthMonitor.from_dict(hm_d(**kw)))

    def fip_associate(self, fip: str, kind: str, related: list[str]) -> list[dict[str, Any]]:
        return self.run(rq.fip_associate, fip, kind, related)

    def fip_disassociate(self, fip: str) -> list[dict[str, Any]]:
        return self.run(rq.fip_disassociate, fip)

    def health(
        self,
        ip: str,
        port: int,
        lsp: str,
        src: str,
        status: str | None,
        *,
        deleted: bool = False,
        protocol: str = "tcp",
    ) -> list[dict[str, Any]]:
        """An SB Service_Monitor change (spec 4.4), merged as the reference merges rows."""
        assert self.state is not None
        state, payloads = rq.member_health(
            self.ctx, self.state, ip, port, protocol, lsp, src, status, deleted
        )
        self.state = parse(L, translate(state))
        return [canon(rq.merge_payloads(payloads))] if payloads else []

    # rows
    def rows(self) -> dict[str | None, LoadBalancerRow]:
        assert self.state is not None
        return {r.protocol: r for r in translate(self.state).lbs.values()}

    def row(self, protocol: str | None = "tcp") -> LoadBalancerRow:
        return self.rows()[protocol]

    def ext(self, protocol: str | None = "tcp") -> dict[str, str]:
        return dict(self.row(protocol).external_ids)

    def vips(self, protocol: str | None = "tcp") -> dict[str, str]:
        return dict(self.row(protocol).vips)

    def hcs(self, protocol: str | None = "tcp") -> list[dict[str, Any]]:
        assert self.state is not None
        rows = translate(self.state)
        lb = self.row(protocol)
        out = [
            {
                "vip": rows.health_checks[h].vip,
                "options": dict(rows.health_checks[h].options),
                "external_ids": dict(rows.health_checks[h].external_ids),
            }
            for h in lb.health_check
        ]
        return sorted(out, key=lambda x: json.dumps(x, sort_keys=True))

    def switches(self, protocol: str | None = "tcp") -> frozenset[str]:
        assert self.state is not None
        rows = translate(self.state)
        uuid = self.row(protocol).uuid
        return frozenset(rows.switches.get(uuid, ()))

    def routers(self, protocol: str | None = "tcp") -> frozenset[str]:
        assert self.state is not None
        rows = translate(self.state)
        uuid = self.row(protocol).uuid
        return frozenset(rows.routers.get(uuid, ()))


def ls_refs(*pairs: tuple[str, int]) -> str:
    """``ls_refs`` JSON text (json.dumps default separators, insertion order)."""
    return json.dumps(dict(pairs))


def entry(mid: str, addr: str, port: int, subnet: str) -> str:
    """A pool member entry, spec 1.3."""
    return f"member_{mid}_{addr}:{port}_{subnet}"


def hc(vip: str, octavia_vip: str, pool: str = PO, hm: str = HM, **opts: str) -> dict[str, Any]:
    return {
        "vip": vip,
        "options": {**HC_OPTS, **opts},
        "external_ids": {
            "octavia:healthmonitor": hm,
            "octavia:pool_id": pool,
            "octavia:vip": octavia_vip,
        },
    }


def sort_hcs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))


def tcp_lb(world: World | None = None, **lb: Any) -> World:
    """LB (spec 11.1), TCP listener on 80 and a SOURCE_IP_PORT pool attached to it."""
    w = world or World()
    w.lb_create(**lb)
    w.listener_create()
    w.pool_create()
    return w


M1_E = entry(M1, "10.10.10.10", 8080, MS)
M2_E = entry(M2, "10.10.10.11", 8080, MS)


# ===============================================================================================
# 1.2 / 1.7 / 3.3 load balancer create
# ===============================================================================================


def test_lb_create_with_additional_vips_counts_them_on_the_vip_switch() -> None:
    """1.2: additional VIP keys joined with ','; 1.7: the VIP LS starts at 1 + additional."""
    w = World()
    add = [{"ip_address": "172.24.4.30", "port_id": ADD_VIP_PORT, "subnet_id": VIP_SUBNET}]
    statuses = w.lb_create(additional_vips=add)
    assert statuses == [{"loadbalancers": [st(L, "ACTIVE", "ONLINE")]}]
    row = w.row(None)
    assert row.protocol is None
    assert dict(row.external_ids) == {
        "enabled": "True",
        "neutron:vip": VIP,
        "neutron:vip_port_id": P,
        "neutron:additional_vips": "172.24.4.30",
        "neutron:additional_vip_port_ids": ADD_VIP_PORT,
        "lr_ref": LR,
        "ls_refs": ls_refs((LS_VIP, 2)),
    }
    assert row.vips == {}
    assert tuple(row.selection_fields) == FIELDS_4


def test_lb_create_two_additional_vips_order_kept() -> None:
    """1.2: additional VIPs and their ports joined with ',' in Octavia order, no spaces."""
    w = World()
    add = [
        {"ip_address": "172.24.4.30", "port_id": ADD_VIP_PORT, "subnet_id": VIP_SUBNET},
        {"ip_address": "172.24.4.20", "port_id": VM_VIPNET, "subnet_id": VIP_SUBNET},
    ]
    w.lb_create(additional_vips=add)
    ext = w.ext(None)
    assert ext["neutron:additional_vips"] == "172.24.4.30,172.24.4.20"
    assert ext["neutron:additional_vip_port_ids"] == f"{ADD_VIP_PORT},{VM_VIPNET}"
    assert ext["ls_refs"] == ls_refs((LS_VIP, 3))


def test_lb_create_disabled() -> None:
    """1.2 ``enabled`` = str(admin state); 5.1 report OFFLINE when admin down."""
    w = World()
    statuses = w.lb_create(admin_state_up=False)
    assert statuses == [{"loadbalancers": [st(L, "ACTIVE", "OFFLINE")]}]
    assert w.ext(None)["enabled"] == "False"


def test_lb_create_on_network_without_router() -> None:
    """3.3: no router interface on the VIP subnet: no lr_ref, only the VIP switch."""
    w = World()
    w.lb_create(
        vip_address="10.20.0.9", vip_port_id=ISO_VIP, vip_network_id=ISO, vip_subnet_id=ISO_S
    )
    ext = w.ext(None)
    assert "lr_ref" not in ext
    assert ext["ls_refs"] == ls_refs((LS_ISO, 1))
    assert w.switches(None) == {LS_ISO}
    assert w.routers(None) == frozenset()


# ===============================================================================================
# A.1 / 5.2 listeners
# ===============================================================================================


def test_listener_create_disabled() -> None:
    """1.3: ``listener_<id>:D`` = ``<port>:``; 5.2: O OFFLINE, LB ACTIVE."""
    w = World()
    w.lb_create()
    statuses = w.listener_create(admin_state_up=False)
    assert statuses == [
        {"listeners": [st(LI, "ACTIVE", "OFFLINE")], "loadbalancers": [st(L, "ACTIVE")]}
    ]
    ext = w.ext("tcp")
    assert ext[f"listener_{LI}:D"] == "80:"
    assert f"listener_{LI}" not in ext
    assert w.row("tcp").protocol == "tcp"


def test_listener_created_after_its_pool_gets_vips() -> None:
    """A.1: listener_create refreshes vips with its default pool (X + {key: val})."""
    w = World()
    w.lb_create()
    w.listener_create(listener_id=LI2, protocol_port=443)  # makes the tcp row
    w.pool_create(listener_id=None)
    w.member_create()
    assert w.vips() == {}
    statuses = w.listener_create(default_pool_id=PO)
    assert w.ext()[f"listener_{LI}"] == f"80:pool_{PO}"
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080"}
    assert statuses == [
        {"listeners": [st(LI, "ACTIVE", "ONLINE")], "loadbalancers": [st(L, "ACTIVE")]}
    ]


def test_listener_update_disable_then_enable() -> None:
    """A.1: the key is renamed with its value kept; vips follow; 5.2 report."""
    w = tcp_lb()
    w.member_create()
    old = li_d(default_pool_id=PO)
    w.listener_update(old, {"admin_state_up": False})
    assert w.vips() == {}
    statuses = w.listener_update({**old, "admin_state_up": False}, {"admin_state_up": True})
    ext = w.ext()
    assert ext[f"listener_{LI}"] == f"80:pool_{PO}"
    assert f"listener_{LI}:D" not in ext
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080"}
    assert statuses == [
        {
            "listeners": [st(LI, "ACTIVE", "ONLINE")],
            "loadbalancers": [st(L, "ACTIVE")],
            "pools": [],
        }
    ]


def test_listener_update_sets_default_pool() -> None:
    """A.1: value becomes ``<old port>:pool_<id>``; 5.2: pools [{id, ACTIVE}]."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.pool_create(listener_id=None)
    w.member_create()
    statuses = w.listener_update(li_d(), {"default_pool_id": PO})
    assert w.ext()[f"listener_{LI}"] == f"80:pool_{PO}"
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080"}
    assert statuses == [
        {
            "listeners": [st(LI, "ACTIVE")],
            "loadbalancers": [st(L, "ACTIVE")],
            "pools": [st(PO, "ACTIVE")],
        }
    ]


def test_listener_update_without_admin_or_pool_writes_nothing() -> None:
    """A.1: neither admin state nor default pool given: no write; 5.2 report, pools []."""
    w = tcp_lb()
    before = translate(w.state) if w.state else None
    statuses = w.listener_update(li_d(default_pool_id=PO), {"connection_limit": 10})
    assert w.state is not None and translate(w.state) == before
    assert statuses == [
        {"listeners": [st(LI, "ACTIVE")], "loadbalancers": [st(L, "ACTIVE")], "pools": []}
    ]


def test_listener_delete_keeps_pool_and_drops_vips() -> None:
    """A.1: only the listener key goes; the pool key keeps the row non-empty (2.4)."""
    w = tcp_lb()
    w.member_create()
    statuses = w.listener_delete(default_pool_id=PO)
    ext = w.ext()
    assert f"listener_{LI}" not in ext
    assert ext[f"pool_{PO}"] == M1_E
    assert w.vips() == {}
    assert w.row().protocol == "tcp"
    assert statuses == [
        {"listeners": [st(LI, "DELETED", "OFFLINE")], "loadbalancers": [st(L, "ACTIVE")]}
    ]


def test_listener_delete_of_missing_listener_same_report() -> None:
    """5.2: the same listener_delete reply when the key is missing."""
    w = tcp_lb()
    statuses = w.listener_delete(listener_id=LI2)
    assert statuses == [
        {"listeners": [st(LI2, "DELETED", "OFFLINE")], "loadbalancers": [st(L, "ACTIVE")]}
    ]


# ===============================================================================================
# 1.5 / 1.6 / A.2 / 5.2 pools
# ===============================================================================================


def test_pool_create_source_ip_sets_two_selection_fields() -> None:
    """1.5: SOURCE_IP -> {ip_dst, ip_src}, overwriting the column."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.pool_create(lb_algorithm="SOURCE_IP")
    assert tuple(w.row().selection_fields) == FIELDS_2
    # 1.5 B10: the last pool created on the row decides for every listener.
    w.pool_create(pool_id=PO2, listener_id=None, lb_algorithm="SOURCE_IP_PORT")
    assert tuple(w.row().selection_fields) == FIELDS_4


@pytest.mark.parametrize(
    ("persistence", "expected"),
    [
        ({"type": "SOURCE_IP"}, {"affinity_timeout": "360"}),
        ({"type": "SOURCE_IP", "persistence_timeout": 120}, {"affinity_timeout": "120"}),
        ({"type": "SOURCE_IP", "persistence_timeout": None}, {}),
        (None, {}),
    ],
    ids=["absent-timeout-360", "timeout-120", "null-timeout-nothing", "no-persistence"],
)
def test_pool_create_affinity_timeout(persistence: Any, expected: dict[str, str]) -> None:
    """1.6: ``affinity_timeout`` = str(timeout), "360" when absent, nothing when null."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.pool_create(session_persistence=persistence)
    assert dict(w.row().options) == expected


def test_pool_update_persistence_timeout() -> None:
    """1.6 pool_update: ``affinity_timeout`` = str(timeout) when persistence is given."""
    w = tcp_lb()
    w.pool_update(
        pool_d(), {"session_persistence": {"type": "SOURCE_IP", "persistence_timeout": 90}}
    )
    assert dict(w.row().options) == {"affinity_timeout": "90"}


def test_pool_create_without_listener_report() -> None:
    """5.2: O OFFLINE without listener_id; no listeners key; pool key "" (1.3)."""
    w = World()
    w.lb_create()
    w.listener_create()
    statuses = w.pool_create(listener_id=None)
    assert statuses == [
        {"pools": [st(PO, "ACTIVE", "OFFLINE")], "loadbalancers": [st(L, "ACTIVE")]}
    ]
    ext = w.ext()
    assert ext[f"pool_{PO}"] == ""
    assert ext[f"listener_{LI}"] == "80:"


def test_pool_create_disabled_with_listener() -> None:
    """1.3: ``pool_<id>:D`` = ""; B3 (compat): the listener names ``pool_<id>``;
    5.2: O ONLINE because listener_id is set (admin state not consulted)."""
    w = World()
    w.lb_create()
    w.listener_create()
    statuses = w.pool_create(admin_state_up=False)
    ext = w.ext()
    assert ext[f"pool_{PO}:D"] == ""
    assert f"pool_{PO}" not in ext
    assert ext[f"listener_{LI}"] == f"80:pool_{PO}"
    assert statuses == [
        {
            "pools": [st(PO, "ACTIVE", "ONLINE")],
            "loadbalancers": [st(L, "ACTIVE")],
            "listeners": [st(LI, "ACTIVE")],
        }
    ]


def test_member_on_disabled_pool_and_enable() -> None:
    """2.3: members go to the row holding ``pool_<id>:D``; 1.4: a disabled pool gives no vips;
    A.2 pool_update: enabling renames the key with its members and refreshes vips."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.pool_create(admin_state_up=False)
    w.member_create()
    ext = w.ext()
    assert ext[f"pool_{PO}:D"] == M1_E
    assert w.vips() == {}
    statuses = w.pool_update(pool_d(admin_state_up=False), {"admin_state_up": True})
    ext = w.ext()
    assert ext[f"pool_{PO}"] == M1_E
    assert f"pool_{PO}:D" not in ext
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080"}
    assert statuses == [
        {
            "pools": [st(PO, "ACTIVE", "ONLINE")],
            "loadbalancers": [st(L, "ACTIVE")],
            "listeners": [st(LI, "ACTIVE")],
        }
    ]


def test_pool_update_disable() -> None:
    """A.2: key renamed to ``:D`` with its members; vips gone; 5.2 report with listeners."""
    w = tcp_lb()
    w.member_create()
    statuses = w.pool_update(pool_d(), {"admin_state_up": False})
    ext = w.ext()
    assert ext[f"pool_{PO}:D"] == M1_E
    assert f"pool_{PO}" not in ext
    assert ext[f"listener_{LI}"] == f"80:pool_{PO}"
    assert w.vips() == {}
    assert statuses == [
        {
            "pools": [st(PO, "ACTIVE", "OFFLINE")],
            "loadbalancers": [st(L, "ACTIVE")],
            "listeners": [st(LI, "ACTIVE")],
        }
    ]


def test_pool_update_without_admin_or_persistence_report() -> None:
    """5.2: neither admin state nor persistence given: pools and loadbalancers, ACTIVE."""
    w = tcp_lb()
    statuses = w.pool_update(pool_d(), {"name": "x"})
    assert statuses == [{"pools": [st(PO, "ACTIVE")], "loadbalancers": [st(L, "ACTIVE")]}]


def test_pool_delete_keeps_selection_fields_and_drops_affinity() -> None:
    """A.2 pool_delete: key gone, listener back to ``<port>:``, affinity_timeout removed,
    selection_fields untouched (only pool_create/lb_sync write them, 1.5)."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.pool_create(lb_algorithm="SOURCE_IP", session_persistence={"type": "SOURCE_IP"})
    statuses = w.pool_delete(lb_algorithm="SOURCE_IP", session_persistence={"type": "SOURCE_IP"})
    ext = w.ext()
    assert f"pool_{PO}" not in ext
    assert ext[f"listener_{LI}"] == "80:"
    assert dict(w.row().options) == {}
    assert tuple(w.row().selection_fields) == FIELDS_2
    assert statuses == [
        {
            "pools": [st(PO, "DELETED")],
            "loadbalancers": [st(L, "ACTIVE")],
            "listeners": [st(LI, "ACTIVE")],
        }
    ]


def test_pool_delete_last_key_clears_protocol() -> None:
    """2.4: no listener or pool key left on the only row: protocol [] and the row kept."""
    w = World()
    w.lb_create()
    w.pool_create(listener_id=None)
    assert w.row("tcp").protocol == "tcp"
    statuses = w.pool_delete(listener_id=None)
    assert set(w.rows()) == {None}
    assert statuses == [
        {"pools": [st(PO, "DELETED")], "loadbalancers": [st(L, "ACTIVE")], "listeners": []}
    ]


def test_pool_delete_with_one_member_and_monitor() -> None:
    """A.2: monitor payload, then one member payload, then the pool payload; the rows lose the
    member (ls_refs -1, status key removed when empty), the check, the mapping and the
    ``octavia:healthmonitors`` key (4.2 hm_delete, 1.9)."""
    w = tcp_lb()
    w.member_create()
    w.hm_create()
    pool = pool_d(members=[mem_d()], healthmonitor=hm_d())
    statuses = w.pool_delete(**pool)
    ext = w.ext()
    for gone in (f"pool_{PO}", "neutron:member_status", "octavia:healthmonitors"):
        assert gone not in ext
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1))
    assert ext[f"listener_{LI}"] == "80:"
    assert w.hcs() == []
    assert dict(w.row().ip_port_mappings) == {}
    assert statuses[0] == {
        "loadbalancers": [st(L, "ACTIVE")],
        "pools": [st(PO, "ACTIVE")],
        "healthmonitors": [st(HM, "DELETED", "NO_MONITOR")],
        "members": [st(M1, "ACTIVE", "NO_MONITOR")],
        "listeners": [st(LI, "ACTIVE")],
    }
    assert statuses[1]["members"] == [st(M1, "DELETED")]
    assert statuses[2] == {
        "pools": [st(PO, "DELETED")],
        "loadbalancers": [st(L, "ACTIVE")],
        "listeners": [st(LI, "ACTIVE")],
    }
    assert len(statuses) == 3


# ===============================================================================================
# 1.3 / 1.7 / 3.4 / 3.5 / 5.3 members
# ===============================================================================================


def test_member_without_subnet_on_vip_subnet() -> None:
    """1.3: no subnet -> the VIP subnet in the entry; 11.5: ls_refs VIP network 2."""
    w = tcp_lb()
    w.member_create(address="172.24.4.20", subnet_id=None)
    ext = w.ext()
    assert ext[f"pool_{PO}"] == entry(M1, "172.24.4.20", 8080, VIP_SUBNET)
    assert ext["ls_refs"] == ls_refs((LS_VIP, 2))
    assert w.vips() == {"172.24.4.9:80": "172.24.4.20:8080"}


def test_member_without_subnet_outside_vip_subnet_is_refused() -> None:
    """7 V8: no subnet and the IP outside the VIP subnet -> UnsupportedOptionError."""
    w = tcp_lb()
    with pytest.raises(UnsupportedOptionError):
        w.member_create(subnet_id=None)


def test_member_delete_without_subnet_outside_vip_subnet_is_refused() -> None:
    """7 V8 applies to member create, **delete** and batch."""
    w = tcp_lb()
    w.member_create()
    with pytest.raises(UnsupportedOptionError):
        w.member_delete(subnet_id=None)


def test_member_delete_without_subnet_on_vip_subnet() -> None:
    """1.3/3.5: a member created without subnet is deleted without subnet (VIP subnet)."""
    w = tcp_lb()
    w.member_create(address="172.24.4.20", subnet_id=None)
    w.member_delete(address="172.24.4.20", subnet_id=None)
    ext = w.ext()
    assert ext[f"pool_{PO}"] == ""
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1))
    assert w.vips() == {}


def test_second_member_appended_older_first() -> None:
    """1.3: new members at the end; 1.4: vips value in list order; 1.7 count +1 each."""
    w = tcp_lb()
    w.member_create()
    statuses = w.member_create(member_id=M2, address="10.10.10.11")
    ext = w.ext()
    assert ext[f"pool_{PO}"] == f"{M1_E},{M2_E}"
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1), (LS_MEMBER, 2))
    assert ext["neutron:member_status"] == json.dumps({M1: "NO_MONITOR", M2: "NO_MONITOR"})
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080,10.10.10.11:8080"}
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE", "ONLINE")],
            "listeners": [st(LI, "ACTIVE", "ONLINE")],
            "pools": [st(PO, "ACTIVE", "ONLINE")],
            "members": [st(M1, "ACTIVE", "NO_MONITOR"), st(M2, "ACTIVE", "NO_MONITOR")],
        }
    ]


def test_member_delete_first_keeps_order_of_others() -> None:
    """1.3: removal keeps the relative order; 1.7: count -1."""
    w = tcp_lb()
    w.member_create()
    w.member_create(member_id=M2, address="10.10.10.11")
    w.member_create(member_id=M3, address="172.24.4.20", subnet_id=VIP_SUBNET)
    statuses = w.member_delete()
    ext = w.ext()
    assert ext[f"pool_{PO}"] == f"{M2_E},{entry(M3, '172.24.4.20', 8080, VIP_SUBNET)}"
    assert ext["ls_refs"] == ls_refs((LS_VIP, 2), (LS_MEMBER, 1))
    assert ext["neutron:member_status"] == json.dumps({M2: "NO_MONITOR", M3: "NO_MONITOR"})
    assert w.vips() == {"172.24.4.9:80": "10.10.10.11:8080,172.24.4.20:8080"}
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE", "ONLINE")],
            "listeners": [st(LI, "ACTIVE", "ONLINE")],
            "pools": [st(PO, "ACTIVE", "ONLINE")],
            "members": [st(M1, "DELETED")],
        }
    ]


def test_member_create_disabled() -> None:
    """5.3/1.9: admin down -> OFFLINE stored, out of vips; 3.4: its switch still counted."""
    w = tcp_lb()
    w.member_create()
    statuses = w.member_create(member_id=M2, address="10.10.10.11", admin_state_up=False)
    ext = w.ext()
    assert ext[f"pool_{PO}"] == f"{M1_E},{M2_E}"
    assert ext["neutron:member_status"] == json.dumps({M1: "NO_MONITOR", M2: "OFFLINE"})
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1), (LS_MEMBER, 2))
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080"}
    assert statuses[0]["members"] == [st(M1, "ACTIVE", "NO_MONITOR"), st(M2, "ACTIVE", "OFFLINE")]
    assert statuses[0]["pools"] == [st(PO, "ACTIVE", "ONLINE")]


def test_member_on_isolated_network_then_deleted() -> None:
    """3.4: member LS +1 and attached, no router for that subnet; 3.5: at 0 the key goes and
    the switch is detached (no router of the LB reaches it, so B40 does not apply)."""
    w = tcp_lb()
    w.member_create(address="10.20.0.10", subnet_id=ISO_S)
    ext = w.ext()
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1), (LS_ISO, 1))
    assert ext["lr_ref"] == LR
    assert w.switches() == {LS_VIP, LS_MEMBER, LS_ISO}
    assert w.routers() == {LR}
    w.member_delete(address="10.20.0.10", subnet_id=ISO_S)
    ext = w.ext()
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1))
    assert w.switches() == {LS_VIP, LS_MEMBER}


def test_member_behind_router_of_isolated_vip_lb() -> None:
    """3.4 (11.9 pattern): a member subnet behind a router brings the router, its switches
    and ``lr_ref``; 3.5: member delete leaves routers and lr_ref alone."""
    w = World()
    w.lb_create(
        vip_address="10.20.0.9", vip_port_id=ISO_VIP, vip_network_id=ISO, vip_subnet_id=ISO_S
    )
    w.listener_create()
    w.pool_create()
    w.member_create()
    ext = w.ext()
    assert ext["ls_refs"] == ls_refs((LS_ISO, 1), (LS_MEMBER, 1))
    assert ext["lr_ref"] == LR
    assert w.routers() == {LR}
    assert w.switches() == {LS_ISO, LS_VIP, LS_MEMBER}
    assert w.vips() == {"10.20.0.9:80": "10.10.10.10:8080"}
    w.member_delete()
    ext = w.ext()
    assert ext["ls_refs"] == ls_refs((LS_ISO, 1))
    assert ext["lr_ref"] == LR
    assert w.routers() == {LR}


def test_member_update_disable_without_monitor() -> None:
    """5.3: admin false -> OFFLINE; report = roll-up with members replaced."""
    w = tcp_lb()
    w.member_create()
    w.member_create(member_id=M2, address="10.10.10.11")
    statuses = w.member_update(mem_d(), {"admin_state_up": False})
    assert w.vips() == {"172.24.4.9:80": "10.10.10.11:8080"}
    assert w.ext()["neutron:member_status"] == json.dumps({M1: "OFFLINE", M2: "NO_MONITOR"})
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE", "ONLINE")],
            "listeners": [st(LI, "ACTIVE", "ONLINE")],
            "pools": [st(PO, "ACTIVE", "ONLINE")],
            "members": [st(M1, "ACTIVE", "OFFLINE")],
        }
    ]
    statuses = w.member_update(mem_d(admin_state_up=False), {"admin_state_up": True})
    assert statuses[0]["members"] == [st(M1, "ACTIVE", "NO_MONITOR")]
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080,10.10.10.11:8080"}


def test_member_update_enable_keeps_error_with_monitor() -> None:
    """5.3: admin true on a row with a health check: ERROR stays ERROR (from an SB event)."""
    w = tcp_lb()
    w.member_create()
    w.hm_create()
    w.health("10.10.10.10", 8080, demo.MEMBER_PORT, "10.10.10.3", "offline")
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "ERROR"}
    statuses = w.member_update(mem_d(), {"admin_state_up": True})
    assert statuses[0]["members"] == [st(M1, "ACTIVE", "ERROR")]


def test_member_update_weight_only_keeps_status() -> None:
    """5.3 'not given' row is B41, fixed (compat): the stored status is kept."""
    w = tcp_lb()
    w.member_create(admin_state_up=False)
    statuses = w.member_update(mem_d(admin_state_up=False), {"weight": 5})
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "OFFLINE"}
    assert statuses[0]["members"] == [st(M1, "ACTIVE", "OFFLINE")]
    assert w.vips() == {}


def test_ipv6_member_on_ipv4_lb_is_refused() -> None:
    """7 V7: a member of the other family than the (single-family) VIPs is refused."""
    w = tcp_lb()
    with pytest.raises(IPVersionsMixingNotSupportedError):
        w.member_create(address="fd00:10::20", subnet_id=V6S)


def test_member_joining_other_pool_of_a_monitored_row_is_mapped() -> None:
    """A.3 member_create 2.5 / 1.9: a new admin-up member on a row with ``health_check``
    (the check belongs to another pool of the row) is mapped and stored ONLINE."""
    w = tcp_lb()
    w.member_create()
    w.hm_create()
    w.listener_create(listener_id=LI2, protocol_port=443)
    w.pool_create(pool_id=PO2, listener_id=LI2)
    statuses = w.member_create(
        member_id=M2, pool_id=PO2, address="172.24.4.20", subnet_id=VIP_SUBNET
    )
    ext = w.ext()
    assert json.loads(ext["neutron:member_status"]) == {M1: "ONLINE", M2: "ONLINE"}
    assert dict(w.row().ip_port_mappings) == {
        "10.10.10.10": f"{demo.MEMBER_PORT}:10.10.10.3",
        "172.24.4.20": f"{VM_VIPNET}:172.24.4.3",
    }
    assert statuses[0]["members"] == [st(M1, "ACTIVE", "ONLINE"), st(M2, "ACTIVE", "ONLINE")]


def test_member_without_port_joining_monitored_pool_is_error() -> None:
    """1.9/4.3: LSP lookup failure when a member joins a pool with a health check: ERROR;
    a pool whose members are all ERROR rolls up ERROR (4.5)."""
    w = tcp_lb()
    w.hm_create()
    statuses = w.member_create(address="10.10.10.50")
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "ERROR"}
    assert dict(w.row().ip_port_mappings) == {}
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE", "ERROR")],
            "listeners": [st(LI, "ACTIVE", "ERROR")],
            "pools": [st(PO, "ACTIVE", "ERROR")],
            "members": [st(M1, "ACTIVE", "ERROR")],
        }
    ]


def test_member_delete_keeps_mapping_shared_with_monitored_member() -> None:
    """4.3: the delkey is skipped when another pool of the row has a member with the same IP
    whose status is not NO_MONITOR."""
    w = tcp_lb()
    w.member_create()
    w.hm_create()
    w.listener_create(listener_id=LI2, protocol_port=443)
    w.pool_create(pool_id=PO2, listener_id=LI2)
    w.member_create(member_id=M2, pool_id=PO2, address="10.10.10.10", protocol_port=9090)
    w.member_delete(member_id=M2, pool_id=PO2, address="10.10.10.10", protocol_port=9090)
    assert dict(w.row().ip_port_mappings) == {"10.10.10.10": f"{demo.MEMBER_PORT}:10.10.10.3"}


# ===============================================================================================
# 5.3 member_batch_update
# ===============================================================================================


def test_batch_update_create_update_delete() -> None:
    """5.3: create (new), update (existing), delete (missing) requests, each reported:
    create = full roll-up; update = roll-up with the kept members; delete = roll-up with the
    deleted members DELETED."""
    w = tcp_lb()
    w.member_create()
    w.member_create(member_id=M2, address="10.10.10.11")
    m3 = mem_d(member_id=M3, address="172.24.4.20", subnet_id=VIP_SUBNET)
    statuses = w.batch(PO, [mem_d(), m3])
    ext = w.ext()
    m3_e = entry(M3, "172.24.4.20", 8080, VIP_SUBNET)
    assert ext[f"pool_{PO}"] == f"{M1_E},{m3_e}"
    assert ext["ls_refs"] == ls_refs((LS_VIP, 2), (LS_MEMBER, 1))
    assert ext["neutron:member_status"] == json.dumps({M1: "NO_MONITOR", M3: "NO_MONITOR"})
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080,172.24.4.20:8080"}
    rollup = {
        "loadbalancers": [st(L, "ACTIVE", "ONLINE")],
        "listeners": [st(LI, "ACTIVE", "ONLINE")],
        "pools": [st(PO, "ACTIVE", "ONLINE")],
    }
    assert statuses == [
        {
            **rollup,
            "members": [
                st(M1, "ACTIVE", "NO_MONITOR"),
                st(M2, "ACTIVE", "NO_MONITOR"),
                st(M3, "ACTIVE", "NO_MONITOR"),
            ],
        },
        {**rollup, "members": [st(M1, "ACTIVE", "NO_MONITOR")]},
        {**rollup, "members": [st(M2, "DELETED")]},
    ]


def test_batch_update_disables_kept_member() -> None:
    """5.3: a kept member with admin_state_up false -> OFFLINE, out of vips."""
    w = tcp_lb()
    w.member_create()
    w.member_create(member_id=M2, address="10.10.10.11")
    statuses = w.batch(
        PO, [mem_d(admin_state_up=False), mem_d(member_id=M2, address="10.10.10.11")]
    )
    assert w.vips() == {"172.24.4.9:80": "10.10.10.11:8080"}
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "OFFLINE", M2: "NO_MONITOR"}
    assert len(statuses) == 1
    assert statuses[0]["members"] == [st(M1, "ACTIVE", "OFFLINE"), st(M2, "ACTIVE", "NO_MONITOR")]


def test_batch_update_with_monitor_sets_kept_members_online() -> None:
    """5.3 update rules (admin_state_up given for every kept member): row with a health check
    -> ONLINE; a created member is mapped (A.3)."""
    w = tcp_lb()
    w.member_create()
    w.hm_create()
    m2 = mem_d(member_id=M2, address="10.10.10.11")
    statuses = w.batch(PO, [mem_d(), m2])
    # VM2 (10.10.10.11) has an LSP on the member network and the subnet has an HM port.
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "ONLINE", M2: "ONLINE"}
    assert dict(w.row().ip_port_mappings) == {
        "10.10.10.10": f"{demo.MEMBER_PORT}:10.10.10.3",
        "10.10.10.11": f"{VM2}:10.10.10.3",
    }
    assert [s["members"] for s in statuses] == [
        [st(M1, "ACTIVE", "ONLINE"), st(M2, "ACTIVE", "ONLINE")],
        [st(M1, "ACTIVE", "ONLINE")],
    ]


# ===============================================================================================
# 4 health monitors
# ===============================================================================================


def test_hm_on_pool_without_listener_then_listener_create() -> None:
    """4.2: no listener -> vip ""; listener_create with the pool as default: vip gets
    ``<octavia:vip>:<port>``."""
    w = World()
    w.lb_create()
    w.listener_create(listener_id=LI2, protocol_port=443)
    w.pool_create(listener_id=None)
    w.member_create()
    w.hm_create()
    assert w.hcs() == [hc("", VIP)]
    w.listener_create(default_pool_id=PO)
    assert w.hcs() == [hc("172.24.4.9:80", VIP)]


def test_hm_create_with_fip_already_associated() -> None:
    """11.7 last paragraph / 4.2: a FIP before the HM -> both checks made by hm_create."""
    w = tcp_lb()
    w.member_create()
    w.fip_associate(FIP, "vip", [VIP])
    w.hm_create()
    assert w.hcs() == sort_hcs([hc("172.24.4.9:80", VIP), hc(f"{FIP}:80", FIP)])
    assert w.ext()["octavia:healthmonitors"] == json.dumps([HM])


def test_hm_create_one_check_per_additional_vip() -> None:
    """4.2: one LBHC per VIP (``neutron:vip`` and each additional VIP)."""
    w = World()
    add = [{"ip_address": "172.24.4.30", "port_id": ADD_VIP_PORT, "subnet_id": VIP_SUBNET}]
    tcp_lb(w, additional_vips=add)
    w.member_create()
    assert w.vips() == {
        "172.24.4.9:80": "10.10.10.10:8080",
        "172.24.4.30:80": "10.10.10.10:8080",
    }
    w.hm_create()
    assert w.hcs() == sort_hcs([hc("172.24.4.9:80", VIP), hc("172.24.4.30:80", "172.24.4.30")])


def test_two_monitors_on_one_row() -> None:
    """4.2: ``octavia:healthmonitors`` = old list + this id; hm_delete rewrites it without."""
    w = tcp_lb()
    w.member_create()
    w.hm_create()
    w.listener_create(listener_id=LI2, protocol_port=443)
    w.pool_create(pool_id=PO2, listener_id=LI2)
    w.member_create(member_id=M2, pool_id=PO2, address="10.10.10.11")
    w.hm_create(healthmonitor_id=HM2, pool_id=PO2)
    assert w.ext()["octavia:healthmonitors"] == json.dumps([HM, HM2])
    assert w.hcs() == sort_hcs(
        [hc("172.24.4.9:80", VIP), hc("172.24.4.9:443", VIP, pool=PO2, hm=HM2)]
    )
    statuses = w.hm_delete()
    assert w.ext()["octavia:healthmonitors"] == json.dumps([HM2])
    assert w.hcs() == [hc("172.24.4.9:443", VIP, pool=PO2, hm=HM2)]
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "NO_MONITOR", M2: "ONLINE"}
    assert dict(w.row().ip_port_mappings) == {"10.10.10.11": f"{VM2}:10.10.10.3"}
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE")],
            "pools": [st(PO, "ACTIVE")],
            "healthmonitors": [st(HM, "DELETED", "NO_MONITOR")],
            "members": [st(M1, "ACTIVE", "NO_MONITOR")],
            "listeners": [st(LI, "ACTIVE")],
        }
    ]


def test_hm_update_merges_only_given_values() -> None:
    """4.2 hm_update: merge of the non-empty new values into every check of the HM; 5.4."""
    w = tcp_lb()
    w.member_create()
    w.fip_associate(FIP, "vip", [VIP])
    w.hm_create()
    statuses = w.hm_update(hm_d(), {"delay": 30, "max_retries_down": 5})
    opts = {"interval": "30", "failure_count": "5"}
    assert w.hcs() == sort_hcs([hc("172.24.4.9:80", VIP, **opts), hc(f"{FIP}:80", FIP, **opts)])
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE")],
            "pools": [st(PO, "ACTIVE")],
            "healthmonitors": [st(HM, "ACTIVE", "ONLINE")],
        }
    ]


def test_hm_update_of_unknown_monitor() -> None:
    """5.4: no LBHC found -> healthmonitors [{id, ERROR, ERROR}]."""
    w = tcp_lb()
    statuses = w.hm_update(hm_d(), {"delay": 30})
    assert statuses == [{"healthmonitors": [st(HM, "ERROR", "ERROR")]}]


def test_hm_delete_on_pool_without_listener_or_members() -> None:
    """5.4 hm_delete: members only if any; listeners always (here none)."""
    w = World()
    w.lb_create()
    w.pool_create(listener_id=None)
    w.hm_create()
    assert w.hcs() == [hc("", VIP)]
    statuses = w.hm_delete()
    assert w.hcs() == []
    assert "octavia:healthmonitors" not in w.ext()
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE")],
            "pools": [st(PO, "ACTIVE")],
            "healthmonitors": [st(HM, "DELETED", "NO_MONITOR")],
            "listeners": [],
        }
    ]


def test_hm_delete_of_unknown_monitor() -> None:
    """5.4: not found -> healthmonitors [{id, NO_MONITOR, DELETED}] only."""
    w = tcp_lb()
    statuses = w.hm_delete(pool_id=PO2)
    assert statuses == [{"healthmonitors": [st(HM, "DELETED", "NO_MONITOR")]}]


def test_hm_create_without_source_port_cleans_pool_mappings() -> None:
    """4.3: any member returning None (HM port or source IP missing) -> HM ERROR/ERROR and
    the pool's mappings are cleaned (all of them, the mapped members' too)."""
    w = tcp_lb()
    w.member_create()  # member subnet: HM port 10.10.10.3
    # A member on the isolated subnet, whose HM port is then taken away: no source IP.
    w.member_create(member_id=M2, address="10.20.0.10", subnet_id=ISO_S)
    topo_without_iso_hm = _topology_without(ISO_HM)
    w2 = World()
    w2.ctx = rq.Context(topo_without_iso_hm, OctaviaView())
    w2.state = w.state
    statuses = w2.hm_create()
    assert statuses[0]["healthmonitors"] == [st(HM, "ERROR", "ERROR")]
    assert dict(w2.row().ip_port_mappings) == {}


def _topology_without(port: str) -> Topology:
    nb = TOPOLOGY.nb
    assert isinstance(nb, NbSnapshot)
    tables = {t: dict(rows) for t, rows in nb.tables.items()}
    del tables["Logical_Switch_Port"][port]
    for ls in tables["Logical_Switch"].values():
        if port in ls["ports"]:
            ls["ports"] = [p for p in ls["ports"] if p != port]
    return Topology(NbSnapshot(tables), TOPOLOGY.subnets)


# ===============================================================================================
# 4.4 / 4.5 health events and roll-up
# ===============================================================================================


def _two_member_hm_lb() -> World:
    w = tcp_lb()
    w.member_create()
    w.member_create(member_id=M2, address="10.10.10.11")
    w.hm_create()
    return w


def test_event_offline_one_of_two_members_degrades() -> None:
    """4.4: ``offline`` -> ERROR; 4.5: one of two ERROR -> pool, listener, LB DEGRADED."""
    w = _two_member_hm_lb()
    statuses = w.health("10.10.10.11", 8080, VM2, "10.10.10.3", "offline")
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "ONLINE", M2: "ERROR"}
    # 1.4: an ERROR member stays in vips.
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080,10.10.10.11:8080"}
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE", "DEGRADED")],
            "listeners": [st(LI, "ACTIVE", "DEGRADED")],
            "pools": [st(PO, "ACTIVE", "DEGRADED")],
            "members": [st(M1, "ACTIVE", "ONLINE"), st(M2, "ACTIVE", "ERROR")],
        }
    ]
    statuses = w.health("10.10.10.11", 8080, VM2, "10.10.10.3", "online")
    assert statuses[0]["pools"] == [st(PO, "ACTIVE", "ONLINE")]


def test_event_for_unmapped_source_is_dropped() -> None:
    """4.4: no row with that mapping (value differs) -> nothing sent."""
    w = _two_member_hm_lb()
    assert w.health("10.10.10.11", 8080, VM2, "10.10.10.99", "offline") == []
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "ONLINE", M2: "ONLINE"}


def test_event_for_other_port_is_dropped() -> None:
    """4.4: no pool entry with that ip and port -> nothing sent."""
    w = _two_member_hm_lb()
    assert w.health("10.10.10.11", 9999, VM2, "10.10.10.3", "offline") == []


def test_rollup_disabled_pool_is_offline_listener_stays_online() -> None:
    """4.5: pool OFFLINE when its admin state is false; an OFFLINE pool does not make its
    listener OFFLINE."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.pool_create(admin_state_up=False)
    statuses = w.member_create()
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE", "ONLINE")],
            "listeners": [st(LI, "ACTIVE", "ONLINE")],
            "pools": [st(PO, "ACTIVE", "OFFLINE")],
            "members": [st(M1, "ACTIVE", "NO_MONITOR")],
        }
    ]


def test_rollup_lb_offline_from_octavia_view() -> None:
    """4.5: LB OFFLINE if Octavia's LB admin_state_up is false."""
    view = OctaviaView()
    w = World(view)
    tcp_lb(w, admin_state_up=False)
    view.loadbalancers[L] = lb_d(admin_state_up=False)
    statuses = w.member_create()
    assert statuses[0]["loadbalancers"] == [st(L, "ACTIVE", "OFFLINE")]
    assert w.vips() == {}


# ===============================================================================================
# 6 floating IPs
# ===============================================================================================


def test_fip_then_member_create_gets_fip_vip() -> None:
    """1.4 step 6: the FIP key maps to the same IPv4 backends for every active listener."""
    w = tcp_lb()
    w.fip_associate(FIP, "vip", [VIP])
    assert w.ext()["neutron:vip_fip"] == FIP
    assert w.vips() == {}
    w.member_create()
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080", f"{FIP}:80": "10.10.10.10:8080"}
    w.listener_create(listener_id=LI2, protocol_port=443, default_pool_id=PO)
    assert w.vips() == {
        "172.24.4.9:80": "10.10.10.10:8080",
        f"{FIP}:80": "10.10.10.10:8080",
        "172.24.4.9:443": "10.10.10.10:8080",
        f"{FIP}:443": "10.10.10.10:8080",
    }


def test_fip_disassociate_without_monitor() -> None:
    """6.2 disassociate: ``neutron:vip_fip`` removed, vips refreshed; 5.5 no report."""
    w = tcp_lb()
    w.member_create()
    w.fip_associate(FIP, "vip", [VIP])
    statuses = w.fip_disassociate(FIP)
    assert statuses == []
    assert "neutron:vip_fip" not in w.ext()
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080"}


def test_additional_vip_fip_associate_and_disassociate() -> None:
    """6.2: additional VIP FIP appended to ``neutron:additional_vip_fips``; its vips entry
    (1.4 step 7); disassociate removes the key when the list is empty."""
    w = World()
    add = [{"ip_address": "172.24.4.30", "port_id": ADD_VIP_PORT, "subnet_id": VIP_SUBNET}]
    tcp_lb(w, additional_vips=add)
    w.member_create()
    w.fip_associate(FIP2, "additional_vip", ["172.24.4.30"])
    assert w.ext()["neutron:additional_vip_fips"] == FIP2
    assert "neutron:vip_fip" not in w.ext()
    assert w.vips() == {
        "172.24.4.9:80": "10.10.10.10:8080",
        "172.24.4.30:80": "10.10.10.10:8080",
        f"{FIP2}:80": "10.10.10.10:8080",
    }
    w.fip_disassociate(FIP2)
    assert "neutron:additional_vip_fips" not in w.ext()
    assert f"{FIP2}:80" not in w.vips()


def test_fip_is_copied_into_a_new_protocol_row() -> None:
    """2.2 / 6.3: ``neutron:vip_fip`` copied into the new row; its vips get FIP entries."""
    w = tcp_lb()
    w.fip_associate(FIP, "vip", [VIP])
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    w.pool_create(pool_id=PO_UDP, listener_id=LI_UDP, protocol="UDP")
    w.member_create(pool_id=PO_UDP, member_id=M2, address="10.10.10.11", protocol_port=53)
    assert w.ext("udp")["neutron:vip_fip"] == FIP
    assert w.vips("udp") == {"172.24.4.9:53": "10.10.10.11:53", f"{FIP}:53": "10.10.10.11:53"}


def test_fip_associate_reaches_every_protocol_row() -> None:
    """2.5 / 6.2: the FIP handler walks all rows of the LB."""
    w = tcp_lb()
    w.member_create()
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    w.fip_associate(FIP, "vip", [VIP])
    assert w.ext("tcp")["neutron:vip_fip"] == FIP
    assert w.ext("udp")["neutron:vip_fip"] == FIP
    w.fip_disassociate(FIP)
    assert "neutron:vip_fip" not in w.ext("udp")


# ===============================================================================================
# 2 several protocols
# ===============================================================================================


def test_udp_listener_creates_second_row() -> None:
    """2.2: a new row for the protocol: VIP keys, enabled (B1 fix: the LB's), lr_ref copied,
    ls_refs counted like a fresh LB (B2 fix), SOURCE_IP_PORT for a listener; router
    association of the VIP subnet (3.3)."""
    w = tcp_lb()
    w.member_create()
    statuses = w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    rows = w.rows()
    assert set(rows) == {"tcp", "udp"}
    udp = rows["udp"]
    assert dict(udp.external_ids) == {
        "enabled": "True",
        "neutron:vip": VIP,
        "neutron:vip_port_id": P,
        "lr_ref": LR,
        "ls_refs": ls_refs((LS_VIP, 1)),
        f"listener_{LI_UDP}": "53:",
    }
    assert udp.name == L
    assert tuple(udp.selection_fields) == FIELDS_4
    assert udp.vips == {}
    assert w.switches("udp") == {LS_VIP, LS_MEMBER}
    assert w.routers("udp") == {LR}
    assert statuses == [
        {"listeners": [st(LI_UDP, "ACTIVE", "ONLINE")], "loadbalancers": [st(L, "ACTIVE")]}
    ]


def test_udp_pool_first_creates_row_with_pool_algorithm() -> None:
    """2.2: a row created by pool_create takes the pool's algorithm."""
    w = tcp_lb()
    w.pool_create(pool_id=PO_UDP, listener_id=None, protocol="UDP", lb_algorithm="SOURCE_IP")
    assert tuple(w.row("udp").selection_fields) == FIELDS_2
    assert tuple(w.row("tcp").selection_fields) == FIELDS_4
    assert w.ext("udp")[f"pool_{PO_UDP}"] == ""


def test_member_rollup_is_per_row() -> None:
    """2.5 / 4.5: the roll-up of a member request covers the pool's row only."""
    w = tcp_lb()
    w.member_create()
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    w.pool_create(pool_id=PO_UDP, listener_id=LI_UDP, protocol="UDP")
    statuses = w.member_create(
        member_id=M2, pool_id=PO_UDP, address="10.10.10.11", protocol_port=53
    )
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE", "ONLINE")],
            "listeners": [st(LI_UDP, "ACTIVE", "ONLINE")],
            "pools": [st(PO_UDP, "ACTIVE", "ONLINE")],
            "members": [st(M2, "ACTIVE", "NO_MONITOR")],
        }
    ]
    assert w.ext("udp")["ls_refs"] == ls_refs((LS_VIP, 1), (LS_MEMBER, 1))
    assert w.ext("tcp")["ls_refs"] == ls_refs((LS_VIP, 1), (LS_MEMBER, 1))


def test_last_listener_of_second_row_deleted_removes_row() -> None:
    """2.4: with other rows present an emptied row is deleted."""
    w = tcp_lb()
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    w.listener_delete(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    assert set(w.rows()) == {"tcp"}


def test_first_row_emptied_while_second_exists_is_deleted_then_recreated() -> None:
    """2.4 then 2.2: the TCP row goes when emptied; a new TCP listener makes a new row from
    the remaining one."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    w.listener_delete()
    assert set(w.rows()) == {"udp"}
    w.listener_create(listener_id=LI2, protocol_port=443)
    assert set(w.rows()) == {"tcp", "udp"}
    assert w.ext("tcp")["ls_refs"] == ls_refs((LS_VIP, 1))
    assert w.ext("tcp")[f"listener_{LI2}"] == "443:"


def test_only_row_emptied_then_other_protocol_reuses_it() -> None:
    """2.4: the only row keeps existing with protocol []; 2.2: a listener of another protocol
    takes it over."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.listener_delete()
    assert set(w.rows()) == {None}
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    assert set(w.rows()) == {"udp"}


def test_sctp_listener_row() -> None:
    """1.1 / 2: ``sctp`` rows."""
    w = World()
    w.lb_create()
    w.listener_create(protocol="SCTP", protocol_port=3868)
    w.pool_create(protocol="SCTP")
    w.member_create(protocol_port=3868)
    assert w.row("sctp").protocol == "sctp"
    assert w.vips("sctp") == {"172.24.4.9:3868": "10.10.10.10:3868"}


def test_lb_update_disable_reaches_every_row() -> None:
    """A.5 lb_update: every row gets enabled False and no vips; 5.1 report O OFFLINE."""
    w = tcp_lb()
    w.member_create()
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    statuses = w.lb_update(lb_d(), {"admin_state_up": False})
    assert w.ext("tcp")["enabled"] == "False"
    assert w.ext("udp")["enabled"] == "False"
    assert w.vips("tcp") == {}
    assert statuses == [{"loadbalancers": [st(L, "ACTIVE", "OFFLINE")]}]
    statuses = w.lb_update(lb_d(admin_state_up=False), {"admin_state_up": True})
    assert w.vips("tcp") == {"172.24.4.9:80": "10.10.10.10:8080"}
    assert statuses == [{"loadbalancers": [st(L, "ACTIVE", "ONLINE")]}]


def test_lb_update_without_admin_change() -> None:
    """5.1: without an admin change only {id, ACTIVE}."""
    w = tcp_lb()
    statuses = w.lb_update(lb_d(), {"name": "x"})
    assert statuses == [{"loadbalancers": [st(L, "ACTIVE")]}]


def test_lb_delete_cascade_reports_children() -> None:
    """5.1 cascade: listeners DELETED/OFFLINE, pools and members DELETED; every row goes."""
    w = tcp_lb()
    w.member_create()
    lb = lb_d(
        listeners=[li_d(default_pool_id=PO)],
        pools=[pool_d(members=[mem_d()])],
    )
    statuses = w.run(rq.lb_delete, LoadBalancer.from_dict(lb), True)
    assert w.state is None
    assert statuses == [
        {
            "loadbalancers": [st(L, "DELETED", "OFFLINE")],
            "listeners": [st(LI, "DELETED", "OFFLINE")],
            "pools": [st(PO, "DELETED")],
            "members": [st(M1, "DELETED")],
        }
    ]


def test_lb_delete_when_not_in_ovn() -> None:
    """5.1: LB not in OVN: all four keys, empty lists, LB DELETED/OFFLINE."""
    w = World()
    statuses = w.run(rq.lb_delete, LoadBalancer.from_dict(lb_d()), False)
    assert statuses == [
        {
            "loadbalancers": [st(L, "DELETED", "OFFLINE")],
            "listeners": [],
            "pools": [],
            "members": [],
        }
    ]


# ===============================================================================================
# IPv6 and dual stack (1.3, 1.4, 4.2, 4.3, 4.4)
# ===============================================================================================


def _v6_lb() -> World:
    w = World()
    w.lb_create(vip_address="fd00:10::9", vip_port_id=V6_VIP, vip_network_id=V6N, vip_subnet_id=V6S)
    w.listener_create()
    w.pool_create()
    w.member_create(address="fd00:10::20", subnet_id=V6S)
    w.member_create(member_id=M2, address="fd00:10::21", subnet_id=V6S)
    return w


def test_ipv6_rows() -> None:
    """1.3 raw IPv6 in entries; 1.4 bracketed vips; 1.7 counts on the VIP network."""
    w = _v6_lb()
    ext = w.ext()
    assert ext["neutron:vip"] == "fd00:10::9"
    assert ext[f"pool_{PO}"] == (
        f"{entry(M1, 'fd00:10::20', 8080, V6S)},{entry(M2, 'fd00:10::21', 8080, V6S)}"
    )
    assert ext["ls_refs"] == ls_refs((LS_V6, 3))
    assert w.vips() == {"[fd00:10::9]:80": "[fd00:10::20]:8080,[fd00:10::21]:8080"}
    # 3.2 / 3.3: R2 has an interface on the IPv6 VIP subnet; only its switches of the VIP's
    # family (networks[0] IPv6) get the LB, so not R2's IPv4 network.
    assert ext["lr_ref"] == LR2
    assert w.routers() == {LR2}
    assert w.switches() == {LS_V6}


def test_ipv6_health_monitor_and_event() -> None:
    """4.2 ``[ip]:port`` check vip, raw ``octavia:vip``; 4.3 bracketed mappings;
    4.4 event keys bracketed, ``offline`` -> ERROR."""
    w = _v6_lb()
    w.hm_create()
    assert w.hcs() == [hc("[fd00:10::9]:80", "fd00:10::9")]
    assert dict(w.row().ip_port_mappings) == {
        "[fd00:10::20]": f"{V6_VM1}:[fd00:10::3]",
        "[fd00:10::21]": f"{V6_VM2}:[fd00:10::3]",
    }
    statuses = w.health("fd00:10::21", 8080, V6_VM2, "fd00:10::3", "offline")
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "ONLINE", M2: "ERROR"}
    assert statuses[0]["pools"] == [st(PO, "ACTIVE", "DEGRADED")]


def test_ipv6_member_disable_unmaps_it() -> None:
    """5.3 / 4.3: admin false -> OFFLINE, delkey of ``[ip]``, out of vips."""
    w = _v6_lb()
    w.hm_create()
    w.member_update(
        mem_d(member_id=M2, address="fd00:10::21", subnet_id=V6S), {"admin_state_up": False}
    )
    assert dict(w.row().ip_port_mappings) == {"[fd00:10::20]": f"{V6_VM1}:[fd00:10::3]"}
    assert w.vips() == {"[fd00:10::9]:80": "[fd00:10::20]:8080"}


def test_ipv6_fip_gives_no_vips_entry() -> None:
    """1.4 step 6: the FIP entry needs IPv4 backends; an IPv6-only pool gets none."""
    w = _v6_lb()
    w.fip_associate(FIP, "vip", ["fd00:10::9"])
    assert w.ext()["neutron:vip_fip"] == FIP
    assert w.vips() == {"[fd00:10::9]:80": "[fd00:10::20]:8080,[fd00:10::21]:8080"}


def test_dual_stack_vips_split_by_family() -> None:
    """1.4 (TH:5394-5428): v4 VIP gets the v4 backends, v6 additional VIP the v6 ones;
    7 V7: VIPs of both families accept members of either; 1.7: the VIP network starts at
    1 + number of additional VIPs."""
    w = World()
    add = [{"ip_address": "fd00:10::30", "port_id": V6_ADD_VIP, "subnet_id": V6S}]
    w.lb_create(additional_vips=add)
    assert w.ext(None)["ls_refs"] == ls_refs((LS_VIP, 2))
    w.listener_create()
    w.pool_create()
    w.member_create()
    w.member_create(member_id=M2, address="fd00:10::20", subnet_id=V6S)
    assert w.vips() == {
        "172.24.4.9:80": "10.10.10.10:8080",
        "[fd00:10::30]:80": "[fd00:10::20]:8080",
    }
    assert w.ext()["ls_refs"] == ls_refs((LS_VIP, 2), (LS_MEMBER, 1), (LS_V6, 1))
    # 3.4 / 1.8: the IPv6 member subnet's router R2 joins; its switches of the family of
    # ``neutron:vip`` (IPv4) are attached, lr_ref lists both routers in attach order.
    assert w.ext()["lr_ref"] == f"{LR},{LR2}"
    assert w.routers() == {LR, LR2}
    assert w.switches() == {LS_VIP, LS_MEMBER, LS_R2, LS_V6}


# ===============================================================================================
# 7 validation
# ===============================================================================================


@pytest.mark.parametrize(
    "request_fn",
    [
        pytest.param(lambda w: w.listener_create(protocol="HTTP"), id="V1-listener-HTTP"),
        pytest.param(lambda w: w.pool_create(protocol="PROXY"), id="V1-pool-PROXY"),
        pytest.param(lambda w: w.pool_create(lb_algorithm="ROUND_ROBIN"), id="V2-round-robin"),
        pytest.param(
            lambda w: w.pool_create(session_persistence={"type": "APP_COOKIE"}),
            id="V3-app-cookie(B8)",
        ),
        pytest.param(
            lambda w: w.listener_create(allowed_cidrs=["10.0.0.0/8"]), id="V4-allowed-cidrs"
        ),
        pytest.param(
            lambda w: w.member_create(monitor_address="10.10.10.10"), id="V6-monitor-address"
        ),
        pytest.param(lambda w: w.member_create(monitor_port=9000), id="V6-monitor-port"),
        pytest.param(
            lambda w: w.batch(PO, [mem_d(monitor_port=9000)]), id="V6b-batch-monitor-port"
        ),
        pytest.param(lambda w: w.hm_create(type="HTTP"), id="V11-hm-HTTP"),
        pytest.param(lambda w: w.hm_create(type="PING"), id="V11-hm-PING"),
        pytest.param(lambda w: w.hm_create(type=None), id="V10-hm-no-type"),
    ],
)
def test_refused_requests_write_nothing(request_fn: Callable[[World], Any]) -> None:
    """7: refused synchronously (UnsupportedOptionError), nothing written."""
    w = tcp_lb()
    w.member_create()
    assert w.state is not None
    before = translate(w.state)
    with pytest.raises(ValidationError) as info:
        request_fn(w)
    assert isinstance(info.value, UnsupportedOptionError)
    assert w.state is not None and translate(w.state) == before


# ===============================================================================================
# Disabled objects with Octavia's view (4.5 reads admin states from Octavia)
# ===============================================================================================


def _viewed(view: OctaviaView, kind: str, obj: dict[str, Any]) -> None:
    """Record an object in Octavia's view, as the replay's ``octavia_changes`` do."""
    id_field = {
        "loadbalancers": "loadbalancer_id",
        "listeners": "listener_id",
        "pools": "pool_id",
        "members": "member_id",
        "healthmonitors": "healthmonitor_id",
    }[kind]
    getattr(view, kind)[obj[id_field]] = obj


def test_disabled_lb_built_then_enabled() -> None:
    """1.4 step 1: enabled "False" -> no vips whatever the children; 4.5: LB OFFLINE from
    Octavia; A.5: lb_update enabling refreshes vips; 5.1 report ONLINE."""
    view = OctaviaView()
    w = World(view)
    _viewed(view, "loadbalancers", lb_d(admin_state_up=False))
    w.lb_create(admin_state_up=False)
    _viewed(view, "listeners", li_d(default_pool_id=PO))
    w.listener_create()
    _viewed(view, "pools", pool_d())
    w.pool_create()
    _viewed(view, "members", mem_d())
    statuses = w.member_create()
    assert w.ext()["enabled"] == "False"
    assert w.vips() == {}
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE", "OFFLINE")],
            "listeners": [st(LI, "ACTIVE", "ONLINE")],
            "pools": [st(PO, "ACTIVE", "ONLINE")],
            "members": [st(M1, "ACTIVE", "NO_MONITOR")],
        }
    ]
    _viewed(view, "loadbalancers", lb_d())
    statuses = w.lb_update(lb_d(admin_state_up=False), {"admin_state_up": True})
    assert w.ext()["enabled"] == "True"
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080"}
    assert statuses == [{"loadbalancers": [st(L, "ACTIVE", "ONLINE")]}]


def test_rollup_disabled_listener_is_offline_lb_stays_online() -> None:
    """4.5: listener OFFLINE when its admin state is false; the LB counts only ERROR and
    DEGRADED listeners."""
    view = OctaviaView()
    w = World(view)
    w.lb_create()
    _viewed(view, "listeners", li_d(admin_state_up=False))
    w.listener_create(admin_state_up=False)
    w.pool_create()
    statuses = w.member_create()
    assert w.vips() == {}
    assert w.ext()[f"listener_{LI}:D"] == f"80:pool_{PO}"
    assert statuses[0]["listeners"] == [st(LI, "ACTIVE", "OFFLINE")]
    assert statuses[0]["loadbalancers"] == [st(L, "ACTIVE", "ONLINE")]


def test_member_disabled_then_deleted() -> None:
    """3.5 / 1.9: a disabled member's delete removes entry, status and count."""
    w = tcp_lb()
    w.member_create()
    w.member_create(member_id=M2, address="10.10.10.11", admin_state_up=False)
    statuses = w.member_delete(member_id=M2, address="10.10.10.11", admin_state_up=False)
    ext = w.ext()
    assert ext[f"pool_{PO}"] == M1_E
    assert ext["neutron:member_status"] == json.dumps({M1: "NO_MONITOR"})
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1), (LS_MEMBER, 1))
    assert statuses[0]["members"] == [st(M2, "DELETED")]


def test_disabling_pool_listener_or_lb_leaves_checks_and_mappings() -> None:
    """A.1 listener_update, A.2 pool_update, A.5 lb_update: none of them touches the
    health checks or ``ip_port_mappings`` (only vips)."""
    w = tcp_lb()
    w.member_create()
    w.hm_create()
    mapping = {"10.10.10.10": f"{demo.MEMBER_PORT}:10.10.10.3"}
    w.pool_update(pool_d(), {"admin_state_up": False})
    assert w.hcs() == [hc("172.24.4.9:80", VIP)]
    assert dict(w.row().ip_port_mappings) == mapping
    w.pool_update(pool_d(admin_state_up=False), {"admin_state_up": True})
    w.listener_update(li_d(default_pool_id=PO), {"admin_state_up": False})
    assert w.hcs() == [hc("172.24.4.9:80", VIP)]
    assert dict(w.row().ip_port_mappings) == mapping
    w.lb_update(lb_d(), {"admin_state_up": False})
    assert w.hcs() == [hc("172.24.4.9:80", VIP)]
    assert dict(w.row().ip_port_mappings) == mapping
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "ONLINE"}


def test_member_joining_disabled_monitored_pool_is_mapped() -> None:
    """A.3: new admin-up member on a row with ``health_check``: mapped and ONLINE, whatever
    the pool's admin state (B15 fix lets the HM exist on a disabled pool)."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.pool_create(admin_state_up=False)
    w.hm_create()
    assert w.hcs() == [hc("172.24.4.9:80", VIP)]
    w.member_create()
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "ONLINE"}
    assert dict(w.row().ip_port_mappings) == {"10.10.10.10": f"{demo.MEMBER_PORT}:10.10.10.3"}
    assert w.vips() == {}


def test_pool_delete_without_listener_next_to_other_pool() -> None:
    """A.2: no listener names the pool -> ``listeners`` []; the other pool untouched."""
    w = tcp_lb()
    w.member_create()
    w.pool_create(pool_id=PO2, listener_id=None)
    statuses = w.pool_delete(pool_id=PO2, listener_id=None)
    ext = w.ext()
    assert f"pool_{PO2}" not in ext
    assert ext[f"pool_{PO}"] == M1_E
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080"}
    assert statuses == [
        {"pools": [st(PO2, "DELETED")], "loadbalancers": [st(L, "ACTIVE")], "listeners": []}
    ]


def test_ipv6_lb_fip_gets_its_own_check() -> None:
    """4.2: one LBHC per FIP whatever the VIP family: ``<fip>:<port>``, octavia:vip = FIP."""
    w = _v6_lb()
    w.fip_associate(FIP, "vip", ["fd00:10::9"])
    w.hm_create()
    assert w.hcs() == sort_hcs([hc("[fd00:10::9]:80", "fd00:10::9"), hc(f"{FIP}:80", FIP)])


def test_udp_monitor_and_event_on_udp_row() -> None:
    """2.3: HM bookkeeping on the pool's row; 4.1 UDP-CONNECT accepted; 4.4 the event is
    matched on ``protocol``: a tcp event does not touch the udp row."""
    w = World()
    w.lb_create()
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    w.pool_create(pool_id=PO_UDP, listener_id=LI_UDP, protocol="UDP")
    w.member_create(pool_id=PO_UDP, protocol_port=53)
    w.hm_create(pool_id=PO_UDP, type="UDP-CONNECT")
    assert w.hcs("udp") == [hc("172.24.4.9:53", VIP, pool=PO_UDP)]
    assert dict(w.row("udp").ip_port_mappings) == {"10.10.10.10": f"{demo.MEMBER_PORT}:10.10.10.3"}
    assert w.health("10.10.10.10", 53, demo.MEMBER_PORT, "10.10.10.3", "offline") == []
    statuses = w.health(
        "10.10.10.10", 53, demo.MEMBER_PORT, "10.10.10.3", "offline", protocol="udp"
    )
    assert statuses == [
        {
            "loadbalancers": [st(L, "ACTIVE", "ERROR")],
            "listeners": [st(LI_UDP, "ACTIVE", "ERROR")],
            "pools": [st(PO_UDP, "ACTIVE", "ERROR")],
            "members": [st(M1, "ACTIVE", "ERROR")],
        }
    ]


# ===============================================================================================
# 1.8 / 3.4 / 3.5 a second router
# ===============================================================================================


def test_member_behind_second_router() -> None:
    """1.2 / 1.8: ``lr_ref`` = router names joined with ',' in attach order; 3.4: the
    second router and its switches of the VIP family; 3.5: member delete leaves routers and
    lr_ref, and (B40 fix) the switch the LB still reaches through R2."""
    w = tcp_lb()
    statuses = w.member_create(address="10.30.0.10", subnet_id=R2S)
    ext = w.ext()
    assert ext["lr_ref"] == f"{LR},{LR2}"
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1), (LS_R2, 1))
    assert w.routers() == {LR, LR2}
    assert w.switches() == {LS_VIP, LS_MEMBER, LS_R2}
    assert statuses[0]["members"] == [st(M1, "ACTIVE", "NO_MONITOR")]
    w.hm_create()
    assert dict(w.row().ip_port_mappings) == {"10.30.0.10": f"{R2_VM}:10.30.0.3"}
    w.member_delete(address="10.30.0.10", subnet_id=R2S)
    ext = w.ext()
    assert ext["lr_ref"] == f"{LR},{LR2}"
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1))
    assert w.routers() == {LR, LR2}
    assert w.switches() == {LS_VIP, LS_MEMBER, LS_R2}
    assert dict(w.row().ip_port_mappings) == {}


def test_second_protocol_row_joins_the_vip_routers_only() -> None:
    """2.2: the new row runs the router association of the VIP subnet only; ``lr_ref`` is
    copied as it is (both routers), ``ls_refs`` fresh (B2 fix)."""
    w = tcp_lb()
    w.member_create(address="10.30.0.10", subnet_id=R2S)
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    ext = w.ext("udp")
    assert ext["lr_ref"] == f"{LR},{LR2}"
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1))
    assert w.routers("udp") == {LR}
    assert w.switches("udp") == {LS_VIP, LS_MEMBER}


# ===============================================================================================
# 4.1 / 4.3 / 5.2 more outcomes
# ===============================================================================================


def test_tcp_monitor_on_udp_pool_is_accepted() -> None:
    """4.1: the pool's protocol is not checked; a TCP HM on a UDP pool is accepted."""
    w = World()
    w.lb_create()
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    w.pool_create(pool_id=PO_UDP, listener_id=LI_UDP, protocol="UDP")
    w.member_create(pool_id=PO_UDP, protocol_port=53)
    statuses = w.hm_create(pool_id=PO_UDP, type="TCP")
    assert w.hcs("udp") == [hc("172.24.4.9:53", VIP, pool=PO_UDP)]
    assert statuses[0]["healthmonitors"] == [st(HM, "ACTIVE", "ONLINE")]


@pytest.mark.xfail(
    strict=True,
    reason="4.1: 'A TCP HM on an SCTP or UDP pool is accepted'; ovnlb refuses an HM on an "
    "SCTP pool (UnsupportedOptionError; compat.md 'by design', not a section-10 bug)",
)
def test_tcp_monitor_on_sctp_pool_is_accepted() -> None:
    """4.1: the pool's protocol is not checked; the check is created on the sctp row."""
    w = World()
    w.lb_create()
    w.listener_create(protocol="SCTP", protocol_port=3868)
    w.pool_create(protocol="SCTP")
    w.member_create(protocol_port=3868)
    statuses = w.hm_create(type="TCP")
    assert w.hcs("sctp") == [hc("172.24.4.9:3868", VIP)]
    assert statuses[0]["healthmonitors"] == [st(HM, "ACTIVE", "ONLINE")]


def test_hm_create_on_pool_missing_from_nb() -> None:
    """4.3: pool key not on the row -> HM NO_MONITOR/ERROR, LB ACTIVE, pool OFFLINE with no
    provisioning status."""
    w = tcp_lb()
    statuses = w.hm_create(pool_id=PO2)
    assert statuses == [
        {
            "healthmonitors": [st(HM, "ERROR", "NO_MONITOR")],
            "loadbalancers": [st(L, "ACTIVE")],
            "pools": [st(PO2, None, "OFFLINE")],
        }
    ]


def test_pool_update_of_pool_missing_from_nb() -> None:
    """5.2 pool_update: row missing -> pool and LB P:ERROR."""
    w = tcp_lb()
    statuses = w.pool_update(pool_d(pool_id=PO2), {"admin_state_up": False})
    assert statuses == [{"pools": [st(PO2, "ERROR")], "loadbalancers": [st(L, "ERROR")]}]


# ===============================================================================================
# Mappings shared inside one pool, and a full teardown
# ===============================================================================================


def test_mapping_kept_while_a_same_pool_member_shares_the_ip() -> None:
    """4.3 deletes the mapping unless a member of *another* pool shares the IP, which leaves
    the live same-pool member at that IP without a health-check source (issue 11 calls it
    wrong; compat.md "same-IP member of the same pool"): ovnlb keeps it."""
    w = tcp_lb()
    w.member_create()
    w.member_create(member_id=M2, protocol_port=9090)
    w.hm_create()
    assert dict(w.row().ip_port_mappings) == {"10.10.10.10": f"{demo.MEMBER_PORT}:10.10.10.3"}
    w.member_delete(member_id=M2, protocol_port=9090)
    assert dict(w.row().ip_port_mappings) == {"10.10.10.10": f"{demo.MEMBER_PORT}:10.10.10.3"}
    assert w.vips() == {"172.24.4.9:80": "10.10.10.10:8080"}


def test_teardown_in_reverse_order() -> None:
    """4.2 hm_delete, 3.5 member_delete, A.2 pool_delete, A.1 listener_delete, 2.4: the row
    ends protocol-less with the VIP keys, ``lr_ref``, the VIP switch count, the FIP (kept
    until disassociated, 6.2) and the last pool's ``selection_fields`` (1.5); the member
    switch stays attached through the router (B40 fix)."""
    w = tcp_lb()
    w.member_create()
    w.member_create(member_id=M2, address="10.10.10.11")
    w.hm_create()
    w.fip_associate(FIP, "vip", [VIP])
    w.hm_delete()
    w.member_delete()
    w.member_delete(member_id=M2, address="10.10.10.11")
    w.pool_delete()
    w.listener_delete()
    row = w.row(None)
    assert dict(row.external_ids) == {
        "enabled": "True",
        "neutron:vip": VIP,
        "neutron:vip_port_id": P,
        "neutron:vip_fip": FIP,
        "lr_ref": LR,
        "ls_refs": ls_refs((LS_VIP, 1)),
    }
    assert row.vips == {}
    assert dict(row.options) == {}
    assert dict(row.ip_port_mappings) == {}
    assert row.health_check == ()
    assert tuple(row.selection_fields) == FIELDS_4
    assert w.switches(None) == {LS_VIP, LS_MEMBER}
    assert w.routers(None) == {LR}


# ===============================================================================================
# Additional VIPs across protocols, monitors and FIPs; batch with a monitor
# ===============================================================================================

ADD_VIPS = [{"ip_address": "172.24.4.30", "port_id": ADD_VIP_PORT, "subnet_id": VIP_SUBNET}]


def test_additional_vips_on_second_protocol_row() -> None:
    """1.2 / 2.2: the new row carries the additional-VIP keys; B2 fix: ls_refs like a fresh
    LB, 1 + number of additional VIPs."""
    view = OctaviaView()
    w = World(view)
    _viewed(view, "loadbalancers", lb_d(additional_vips=ADD_VIPS))
    tcp_lb(w, additional_vips=ADD_VIPS)
    w.listener_create(listener_id=LI_UDP, protocol="UDP", protocol_port=53)
    ext = w.ext("udp")
    assert ext["neutron:additional_vips"] == "172.24.4.30"
    assert ext["neutron:additional_vip_port_ids"] == ADD_VIP_PORT
    assert ext["ls_refs"] == ls_refs((LS_VIP, 2))


def test_monitor_checks_for_vip_additional_vip_and_fip() -> None:
    """4.2: one LBHC per VIP (primary, additional) and per FIP, in one hm_create."""
    w = World()
    tcp_lb(w, additional_vips=ADD_VIPS)
    w.member_create()
    w.fip_associate(FIP, "vip", [VIP])
    assert w.vips() == {
        "172.24.4.9:80": "10.10.10.10:8080",
        "172.24.4.30:80": "10.10.10.10:8080",
        f"{FIP}:80": "10.10.10.10:8080",
    }
    w.hm_create()
    assert w.hcs() == sort_hcs(
        [
            hc("172.24.4.9:80", VIP),
            hc("172.24.4.30:80", "172.24.4.30"),
            hc(f"{FIP}:80", FIP),
        ]
    )


def test_batch_with_monitor_replaces_member_at_other_ip() -> None:
    """5.3 / A.3 / 4.3: the created member is mapped (ONLINE), the missing one unmapped and
    removed; reports: create roll-up, update of the kept member, delete."""
    w = tcp_lb()
    w.member_create()
    w.member_create(member_id=M2, address="10.10.10.11")
    w.hm_create()
    m3 = mem_d(member_id=M3, address="172.24.4.20", subnet_id=VIP_SUBNET)
    statuses = w.batch(PO, [mem_d(), m3])
    assert dict(w.row().ip_port_mappings) == {
        "10.10.10.10": f"{demo.MEMBER_PORT}:10.10.10.3",
        "172.24.4.20": f"{VM_VIPNET}:172.24.4.3",
    }
    assert w.ext()["neutron:member_status"] == json.dumps({M1: "ONLINE", M3: "ONLINE"})
    assert [s["members"] for s in statuses] == [
        [st(M1, "ACTIVE", "ONLINE"), st(M2, "ACTIVE", "ONLINE"), st(M3, "ACTIVE", "ONLINE")],
        [st(M1, "ACTIVE", "ONLINE")],
        [st(M2, "DELETED")],
    ]


# ===============================================================================================
# Provider networks (1.7, 3.1, 3.3, 11.9)
# ===============================================================================================


def _provider_iso_world() -> World:
    """The isolated network marked as a provider network (its LS has
    ``neutron:provnet-physical-network``)."""
    nb = TOPOLOGY.nb
    assert isinstance(nb, NbSnapshot)
    tables = {t: dict(rows) for t, rows in nb.tables.items()}
    ls = dict(tables["Logical_Switch"][LS_ISO])
    ls["external_ids"] = {"neutron:provnet-physical-network": "physnet1"}
    tables["Logical_Switch"][LS_ISO] = ls
    w = World()
    w.ctx = rq.Context(Topology(NbSnapshot(tables), TOPOLOGY.subnets), OctaviaView())
    return w


def test_member_on_provider_network_is_not_counted() -> None:
    """1.7: associating a provider network gives up: no ``ls_refs`` key, no attachment;
    the member still gets its vips backend (1.4)."""
    w = _provider_iso_world()
    tcp_lb(w)
    w.member_create(address="10.20.0.10", subnet_id=ISO_S)
    assert w.ext()["ls_refs"] == ls_refs((LS_VIP, 1))
    assert LS_ISO not in w.switches()
    assert w.vips() == {"172.24.4.9:80": "10.20.0.10:8080"}
    w.member_delete(address="10.20.0.10", subnet_id=ISO_S)
    assert w.ext()["ls_refs"] == ls_refs((LS_VIP, 1))
    assert w.ext()[f"pool_{PO}"] == ""


def test_vip_on_provider_network() -> None:
    """11.9: no ``ls_refs`` and no ``lr_ref`` at creation; a member on the provider VIP
    network adds none; a member behind a router adds its switch count, the router and
    ``lr_ref``."""
    w = _provider_iso_world()
    w.lb_create(
        vip_address="10.20.0.9", vip_port_id=ISO_VIP, vip_network_id=ISO, vip_subnet_id=ISO_S
    )
    assert w.ext(None) == {
        "enabled": "True",
        "neutron:vip": "10.20.0.9",
        "neutron:vip_port_id": ISO_VIP,
    }
    assert w.switches(None) == frozenset()
    w.listener_create()
    w.pool_create()
    w.member_create(address="10.20.0.10", subnet_id=None)
    ext = w.ext()
    assert ext[f"pool_{PO}"] == entry(M1, "10.20.0.10", 8080, ISO_S)
    assert "ls_refs" not in ext
    assert "lr_ref" not in ext
    w.member_create(member_id=M2, address="10.10.10.11")
    ext = w.ext()
    assert ext["ls_refs"] == ls_refs((LS_MEMBER, 1))
    assert ext["lr_ref"] == LR
    assert w.routers() == {LR}
    assert w.switches() == {LS_VIP, LS_MEMBER}


# ===============================================================================================
# 3.6 router interface created (driver agent), on the in-memory backend
# ===============================================================================================

IFACE = _u(0xAB)  # a new router-interface port


def _nb_world() -> tuple[MemoryBackend, OvnLbDriver]:
    """The topology above as Neutron's rows in an in-memory NB, and a driver on it."""
    backend = MemoryBackend()
    ops: list[dict[str, Any]] = []
    for table in ("Logical_Switch_Port", "Logical_Router_Port", "Logical_Switch", "Logical_Router"):
        for name, row in RAW_TABLES[table].items():
            ops.append({"op": "insert", "table": table, "row": {"_name": name, **row}})
    backend.apply_raw(ops)
    return backend, OvnLbDriver(backend, TOPOLOGY.subnets)


def _add_interface(backend: MemoryBackend, router: str, net: str, cidr: str) -> None:
    """Neutron adds a router interface (conformance-format 3), then the agent reacts to the
    changed rows as ``ovnlb watch`` does."""
    reader = backend.reader()
    before = {t: {u: dict(r) for u, r in reader.rows(t).items()} for t in ev.NB_TABLES}
    ls = f"neutron-{net}"
    lsp, lrp = _router_interface(IFACE, net, cidr, router)
    ls_ports = [
        str(reader.rows("Logical_Switch_Port")[u]["name"])
        for u in reader.by_name("Logical_Switch", ls)[0][1]["ports"]
    ]
    lr_ports = [
        str(reader.rows("Logical_Router_Port")[u]["name"])
        for u in reader.by_name("Logical_Router", router)[0][1]["ports"]
    ]
    backend.apply_raw(
        [
            {"op": "insert", "table": "Logical_Switch_Port", "row": {"_name": IFACE, **lsp}},
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": ls,
                "columns": {"ports": [*ls_ports, IFACE]},
            },
            {"op": "insert", "table": "Logical_Router_Port", "row": {"_name": lrp["name"], **lrp}},
            {
                "op": "update",
                "table": "Logical_Router",
                "name": router,
                "columns": {"ports": [*lr_ports, lrp["name"]]},
            },
        ]
    )
    reader = backend.reader()
    actions: list[ev.LbAction] = []
    for t in ev.NB_TABLES:
        after = {u: dict(r) for u, r in reader.rows(t).items()}
        for u in sorted(set(before[t]) | set(after)):
            old, new = before[t].get(u), after.get(u)
            if old != new:
                actions += ev.nb_actions(reader, ev.RowChange(t, u, old, new))
    for a in ev.dedupe(actions):
        ap = ev.plan_action(backend.reader(), a, TOPOLOGY.subnets)
        backend.commit(ap.plan, basis=ap.actual)


def _attachments(backend: MemoryBackend) -> tuple[frozenset[str], frozenset[str], dict[str, str]]:
    rows = lb_rowset(backend.reader(), L)
    [(uuid, row)] = rows.lbs.items()
    return (
        frozenset(rows.switches.get(uuid, ())),
        frozenset(rows.routers.get(uuid, ())),
        dict(row.external_ids),
    )


def _driver_lb(driver: OvnLbDriver) -> None:
    driver.lb_create(lb_d())
    driver.listener_create(li_d())
    driver.pool_create(pool_d())


def test_interface_on_vip_network_associates_the_lb_with_the_router() -> None:
    """3.6 create: every LB on the interface's network and not on the router is associated
    with it (1.8: router, its switches of the VIP family, ``lr_ref`` appended)."""
    backend, driver = _nb_world()
    _driver_lb(driver)
    _add_interface(backend, LR2, N, "172.24.4.2/24")
    switches, routers, ext = _attachments(backend)
    assert routers == {LR, LR2}
    assert ext["lr_ref"] == f"{LR},{LR2}"
    assert switches == {LS_VIP, LS_MEMBER, LS_R2}
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1))


def test_interface_on_switch_reached_through_a_router_associates_the_lb() -> None:
    """3.6 create: the LB is on the member switch through router R (3.3); an interface of R2
    on that switch associates the LB with R2 (R2's IPv4 switches, ``lr_ref``)."""
    backend, driver = _nb_world()
    _driver_lb(driver)
    assert LS_MEMBER in _attachments(backend)[0]
    _add_interface(backend, LR2, MN, "10.10.10.2/24")
    switches, routers, ext = _attachments(backend)
    assert routers == {LR, LR2}
    assert ext["lr_ref"] == f"{LR},{LR2}"
    assert switches == {LS_VIP, LS_MEMBER, LS_R2}


def test_interface_of_other_family_adds_the_router_lbs_to_its_network() -> None:
    """3.6 create: 'every LB on the router but not on the network is added to the network'
    (no family test on this path; the family filter of 3.2 applies to associations)."""
    backend, driver = _nb_world()
    _driver_lb(driver)
    _add_interface(backend, LR, V6N, "fd00:10::2/64")
    switches, routers, ext = _attachments(backend)
    assert routers == {LR}
    assert switches == {LS_VIP, LS_MEMBER, LS_V6}
    assert ext["lr_ref"] == LR


def test_interface_added_to_router_of_a_deleted_member() -> None:
    """3.5: a member delete leaves R2 and ``lr_ref``; 3.6 create on R2: the LB (on R2, not
    on the new network) is added to that network; nothing is detached."""
    backend, driver = _nb_world()
    _driver_lb(driver)
    driver.member_create(mem_d(address="10.30.0.10", subnet_id=R2S))
    driver.member_delete(mem_d(address="10.30.0.10", subnet_id=R2S))
    switches, routers, ext = _attachments(backend)
    assert routers == {LR, LR2}
    assert ext["lr_ref"] == f"{LR},{LR2}"
    _add_interface(backend, LR2, ISO, "10.20.0.1/24")
    switches, routers, ext = _attachments(backend)
    assert routers == {LR, LR2}
    assert ext["lr_ref"] == f"{LR},{LR2}"
    assert switches == {LS_VIP, LS_MEMBER, LS_R2, LS_ISO}


# ===============================================================================================
# Disabled listener and pool with monitors and member requests
# ===============================================================================================


def test_monitor_of_pool_behind_disabled_listener_takes_its_port() -> None:
    """4.2: vip_port = the port of the first listener whose value points at the pool; the
    test is 'contains listener_', so a disabled listener counts."""
    w = World()
    w.lb_create()
    w.listener_create(admin_state_up=False)
    w.pool_create()
    w.member_create()
    w.hm_create()
    assert w.hcs() == [hc("172.24.4.9:80", VIP)]
    assert w.vips() == {}


def test_member_update_and_delete_on_disabled_pool() -> None:
    """2.3: member requests find the row through ``pool_<id>:D``; 5.3 statuses; 1.4 a
    disabled pool gives no vips whatever its members."""
    w = World()
    w.lb_create()
    w.listener_create()
    w.pool_create(admin_state_up=False)
    w.member_create()
    w.member_create(member_id=M2, address="10.10.10.11")
    statuses = w.member_update(mem_d(), {"admin_state_up": False})
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "OFFLINE", M2: "NO_MONITOR"}
    assert statuses[0]["members"] == [st(M1, "ACTIVE", "OFFLINE")]
    assert statuses[0]["pools"] == [st(PO, "ACTIVE", "OFFLINE")]
    statuses = w.member_delete(member_id=M2, address="10.10.10.11")
    ext = w.ext()
    assert ext[f"pool_{PO}:D"] == M1_E
    assert ext["ls_refs"] == ls_refs((LS_VIP, 1), (LS_MEMBER, 1))
    assert statuses[0]["members"] == [st(M2, "DELETED")]
    assert w.vips() == {}


def test_hm_delete_leaves_members_of_other_pools_mapped() -> None:
    """4.2 hm_delete steps 1-2 touch only the pool's members: a member of another pool that
    was mapped because the row had a health check (A.3) keeps its mapping and status."""
    w = tcp_lb()
    w.member_create()
    w.hm_create()
    w.listener_create(listener_id=LI2, protocol_port=443)
    w.pool_create(pool_id=PO2, listener_id=LI2)
    w.member_create(member_id=M2, pool_id=PO2, address="10.10.10.11")
    w.hm_delete()
    assert w.hcs() == []
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "NO_MONITOR", M2: "ONLINE"}
    assert dict(w.row().ip_port_mappings) == {"10.10.10.11": f"{VM2}:10.10.10.3"}


def test_member_enabled_without_a_port_is_online_after_member_update() -> None:
    """5.3 member_update: admin up on a row with a health check stores ``ONLINE`` unless the
    previous status was ``ERROR``; no mapping test on this path (a member without a port
    stays unmapped, 4.3)."""
    w = tcp_lb()
    w.member_create(address="10.10.10.77", admin_state_up=False)
    w.hm_create()
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "OFFLINE"}
    statuses = w.member_update(
        mem_d(address="10.10.10.77", admin_state_up=False), {"admin_state_up": True}
    )
    assert statuses[0]["members"] == [st(M1, "ACTIVE", "ONLINE")]
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "ONLINE"}
    assert "10.10.10.77" not in dict(w.row().ip_port_mappings)


def test_hm_delete_keeps_a_mapping_an_offline_member_of_another_pool_shares() -> None:
    """4.2 hm_delete step 2: the pool's member IPs leave ``ip_port_mappings`` unless another
    pool on the row has a member at that IP whose status is not ``NO_MONITOR``; OFFLINE is
    not NO_MONITOR, so the mapping stays."""
    w = tcp_lb()
    w.member_create()
    w.hm_create()
    mapping = dict(w.row().ip_port_mappings)["10.10.10.10"]
    w.listener_create(listener_id=LI2, protocol_port=443)
    w.pool_create(pool_id=PO2, listener_id=LI2)
    w.member_create(member_id=M2, pool_id=PO2, protocol_port=9090, admin_state_up=False)
    assert json.loads(w.ext()["neutron:member_status"])[M2] == "OFFLINE"
    w.hm_delete()
    assert json.loads(w.ext()["neutron:member_status"]) == {M1: "NO_MONITOR", M2: "OFFLINE"}
    assert dict(w.row().ip_port_mappings) == {"10.10.10.10": mapping}
