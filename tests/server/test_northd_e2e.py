"""End to end with ovn-northd: the NB rows ovnlb writes become the SB flows and monitors OVN builds.

Every test runs real ``ovsdb-server`` (NB + SB) and ``ovn-northd`` processes
(fixture ``ovn_northd``), drives Octavia requests through
:class:`~ovnlb_backends.service.driver.OvnLbDriver` on an
:class:`~ovnlb_backends.idl.IdlBackend`, and reads what northd made of them
from the SB database with ``ovn-sbctl``:

* the ``ct_lb_mark(backends=...)`` actions of the logical flows of a VIP
  (``ovn-sbctl lflow-list``), per datapath (switch or router);
* the ``Service_Monitor`` rows of health-checked backends.

Expected values are typed from reference-behavior.md (sections 1.4, 4, 11),
not taken from the library's output. After an NB change the tests wait for
northd with ``ovn-nbctl --wait=sb sync`` (northd has written the SB changes
for everything committed before it). After an SB change made by hand
(``ovn-sbctl set Service_Monitor ... status=...``, emulating ovn-controller),
there is no such barrier: the tests poll the flows until they reach the
expected value or a timeout, then compare.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from ovnlb_backends.cli import demo
from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_backends.service.sbwatch import ServiceMonitor, read_service_monitors, to_event
from ovnlb_core.rawops import RawOp
from ovnlb_core.topology import Subnet

T = TypeVar("T")

#: How long northd gets to react to an SB change made by hand (it takes ~20 ms).
POLL_TIMEOUT = 10.0

# Spec 11.1 names.
VIP_LS = "neutron-ee97665d-69d0-4995-a275-27855359956a"
MEMBER_LS = "neutron-5b2c8d7e-1f3a-4c9b-8e6d-2a7f0c1b9d34"
LR = "neutron-3d2a873b-b5b4-4d14-ac24-47a835fd47b2"
WALK_LB = "94e7c431-912b-496c-a247-d52875d44ac7"
WALK_MEMBER = "adf55e70-3d50-4e62-99fd-dd77eababb1c"
WALK_MEMBER_LSP = "0c6f4a52-93d1-4e8b-b7a2-5d1e9f3c8a60"
WALK_BACKEND = "10.10.10.10:63015"
#: Spec 1.5: SOURCE_IP_PORT = [ip_dst, ip_src, tp_dst, tp_src]; northd spells tp_* tcp_* for TCP.
TCP_4_TUPLE = "ip_dst,ip_src,tcp_dst,tcp_src"


# ---------------------------------------------------------------------------
# reading what northd built
# ---------------------------------------------------------------------------

_DATAPATH_RE = re.compile(r'^Datapath: "?([^"\s]+)"? \(')
_FLOW_RE = re.compile(r"match=\((?P<match>.*)\), action=\((?P<action>.*)\)$")
_CT_LB_RE = re.compile(
    r"ct_lb_mark\(backends=(?P<backends>[^;)]*)(?:; hash_fields=\"(?P<hash>[^\"]*)\")?"
)


def _vip_match(vip: str, port: int) -> re.Pattern[str]:
    return re.compile(
        rf"ct\.new\b.*\bip4\.dst == {re.escape(vip)}(?![\d.]).*\btcp\.dst == {port}(?!\d)"
    )


def lb_flows(sb: OvnSandbox, vip: str, port: int) -> dict[str, set[tuple[str, str | None]]]:
    """The load-balancing flows of ``vip:port``, per datapath name.

    Only flows that match new connections to the VIP (``ct.new``: the switch's
    ``ls_in_lb`` and the router's ``lr_in_dnat`` stages). Each is given as
    ``(backends, hash_fields)`` from its ``ct_lb_mark(backends=...)`` action,
    or ``("drop", None)`` when northd has no live backend left for it.
    """
    want = _vip_match(vip, port)
    out: dict[str, set[tuple[str, str | None]]] = {}
    datapath = ""
    for line in sb.sbctl("lflow-list").splitlines():
        m = _DATAPATH_RE.match(line)
        if m:
            datapath = m.group(1)
            continue
        flow = _FLOW_RE.search(line)
        if flow is None or not want.search(flow.group("match")):
            continue
        action = flow.group("action")
        ct = _CT_LB_RE.search(action)
        if ct is not None:
            value: tuple[str, str | None] = (ct.group("backends"), ct.group("hash"))
        elif action.strip() == "drop;":
            value = ("drop", None)
        else:
            continue
        out.setdefault(datapath, set()).add(value)
    return out


def backends(sb: OvnSandbox, vip: str, port: int) -> dict[str, set[str]]:
    """:func:`lb_flows` without the hash fields."""
    return {dp: {b for b, _h in flows} for dp, flows in lb_flows(sb, vip, port).items()}


def northd_sync(sb: OvnSandbox) -> None:
    """Return once northd has put every NB change committed so far into SB."""
    sb.nbctl("--timeout=20", "--wait=sb", "sync")


def poll(read: Callable[[], T], expected: T, timeout: float = POLL_TIMEOUT) -> T:
    """``read()`` until it returns ``expected`` or ``timeout`` passes; the last value read."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def monitors(sb: OvnSandbox) -> list[ServiceMonitor]:
    return read_service_monitors(sb.sbctl)


def monitor_keys(sb: OvnSandbox) -> set[tuple[str, int, str | None, str, str]]:
    """``(ip, port, protocol, logical_port, src_ip)`` of every SB Service_Monitor row."""
    return {(m.ip, m.port, m.protocol, m.logical_port, m.src_ip) for m in monitors(sb)}


def monitor_of(sb: OvnSandbox, ip: str) -> ServiceMonitor:
    (mon,) = [m for m in monitors(sb) if m.ip == ip]
    return mon


def set_monitor_status(sb: OvnSandbox, mon: ServiceMonitor, status: str) -> None:
    """What ovn-controller does after probing a backend."""
    if status == "online":
        # northd turns a hand-set "online" back to "offline" while the backend's
        # port is not bound (no ovn-controller runs here): mark it up first.
        (pb,) = sb.sbctl(
            "--bare",
            "--columns=_uuid",
            "find",
            "Port_Binding",
            f'logical_port="{mon.logical_port}"',
        ).split()
        sb.sbctl("set", "Port_Binding", pb, "up=true")
    sb.sbctl("set", "Service_Monitor", mon.uuid, f"status={status}")


def nb_lb(sb: OvnSandbox, name: str) -> dict[str, Any]:
    """The NB Load_Balancer row named ``name`` as the server has it (maps as dicts)."""
    out = json.loads(sb.nbctl("--format=json", "find", "Load_Balancer", f'name="{name}"'))
    [data] = out["data"]
    row: dict[str, Any] = {}
    for col, value in zip(out["headings"], data, strict=True):
        if isinstance(value, list) and value[0] == "map":
            value = dict(value[1])
        row[col] = value
    return row


def member_status(sb: OvnSandbox, name: str) -> str | None:
    ext: dict[str, str] = nb_lb(sb, name)["external_ids"]
    return ext.get("neutron:member_status")


def sorted_report(payload: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A status payload with each list sorted by id (the spec leaves their order open)."""
    return {k: sorted(v, key=lambda e: str(e["id"])) for k, v in payload.items()}


def entry(oid: str, operating: str) -> dict[str, str]:
    return {"id": oid, "provisioning_status": "ACTIVE", "operating_status": operating}


@pytest.fixture
def nb_backend(ovn_northd: OvnSandbox) -> Iterator[IdlBackend]:
    be = IdlBackend(ovn_northd.nb_remote, timeout=10)
    try:
        yield be
    finally:
        be.close()


# ---------------------------------------------------------------------------
# 1. the worked example (spec 11) as northd sees it
# ---------------------------------------------------------------------------


def test_walkthrough_flows_and_monitors(ovn_northd: OvnSandbox, nb_backend: IdlBackend) -> None:
    sb = ovn_northd
    steps = dict(enumerate(fn for _title, fn in demo.steps()))
    nb_backend.apply_raw(demo.topology_ops())
    driver = OvnLbDriver(nb_backend, demo.SUBNETS)

    # 11.2-11.4: LB, listener without pool, empty pool: vips stays {}, no LB flow at all.
    for n in (0, 1, 2):
        steps[n](driver)
        northd_sync(sb)
        assert lb_flows(sb, "172.24.4.9", 64015) == {}, f"step {n + 1}"
    assert monitors(sb) == []

    # 11.5 member_create: vips {"172.24.4.9:64015": "10.10.10.10:63015"}; the LB is on both
    # switches and the router (11.2 associations), hashing on the 4-tuple (spec 1.5).
    steps[3](driver)
    northd_sync(sb)
    one = {(WALK_BACKEND, TCP_4_TUPLE)}
    assert lb_flows(sb, "172.24.4.9", 64015) == {VIP_LS: one, MEMBER_LS: one, LR: one}
    assert monitors(sb) == []

    # 11.6 health_monitor_create: northd creates one Service_Monitor (11.6 follow-up), with
    # the HM's options (4.1) and northd's svc_monitor_mac; the backend stays (status empty).
    steps[4](driver)
    northd_sync(sb)
    assert lb_flows(sb, "172.24.4.9", 64015) == {VIP_LS: one, MEMBER_LS: one, LR: one}
    (mon,) = monitors(sb)
    assert (mon.ip, mon.port, mon.protocol, mon.logical_port, mon.src_ip) == (
        "10.10.10.10",
        63015,
        "tcp",
        WALK_MEMBER_LSP,
        "10.10.10.3",
    )
    assert dict(mon.options) == {
        "interval": "10",
        "timeout": "5",
        "success_count": "3",
        "failure_count": "3",
    }
    nb_global = json.loads(sb.nbctl("--format=json", "--columns=options", "list", "NB_Global"))
    assert mon.src_mac == dict(nb_global["data"][0][0][1])["svc_monitor_mac"]
    assert mon.status is None

    # 11.7 FIP 203.0.113.10 on the VIP port: a second VIP with the same backend; the second
    # health check guards the same backend, so still one monitor.
    driver.fip_associate(
        WALK_LB, "203.0.113.10", "vip", "c98e52d0-5965-4b22-8a17-a374f4399193", "172.24.4.9"
    )
    northd_sync(sb)
    for vip in ("172.24.4.9", "203.0.113.10"):
        assert backends(sb, vip, 64015) == {
            VIP_LS: {WALK_BACKEND},
            MEMBER_LS: {WALK_BACKEND},
            LR: {WALK_BACKEND},
        }, vip
    assert [m.uuid for m in monitors(sb)] == [mon.uuid]

    # 11.8 member disabled: vips {} (both the VIP and the FIP entry go), mapping removed, so
    # northd removes the Service_Monitor; its delete event matches no LB and is ignored.
    steps[5](driver)
    northd_sync(sb)
    assert lb_flows(sb, "172.24.4.9", 64015) == {}
    assert lb_flows(sb, "203.0.113.10", 64015) == {}
    assert monitors(sb) == []
    assert driver.member_health([to_event(mon, "delete")]) == []
    assert member_status(sb, WALK_LB) == '{"adf55e70-3d50-4e62-99fd-dd77eababb1c": "OFFLINE"}'

    # Re-enabling (end of 11.8): ONLINE, both vips entries and the mapping come back.
    member = {
        "member_id": WALK_MEMBER,
        "pool_id": "898be8a2-5185-4f3b-8658-a56457f595a9",
        "address": "10.10.10.10",
        "protocol_port": 63015,
        "subnet_id": "8f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b",
        "admin_state_up": False,
    }
    driver.member_update(member, {"admin_state_up": True})
    northd_sync(sb)
    for vip in ("172.24.4.9", "203.0.113.10"):
        assert backends(sb, vip, 64015) == {
            VIP_LS: {WALK_BACKEND},
            MEMBER_LS: {WALK_BACKEND},
            LR: {WALK_BACKEND},
        }, vip
    assert monitor_keys(sb) == {("10.10.10.10", 63015, "tcp", WALK_MEMBER_LSP, "10.10.10.3")}
    assert member_status(sb, WALK_LB) == '{"adf55e70-3d50-4e62-99fd-dd77eababb1c": "ONLINE"}'


# ---------------------------------------------------------------------------
# 2. a health-monitored pool: SB status -> member_health -> NB -> flows
# ---------------------------------------------------------------------------

LB = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a01"
NET = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a02"
SUBNET = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a03"
VIP_PORT = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a04"
HM_PORT = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a05"
LSP1 = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a11"
LSP2 = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a12"
LSP3 = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a13"
L80 = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a21"
L81 = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a22"
POOL_A = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a31"
POOL_B = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a32"
M1 = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a41"
M2 = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a42"
M3 = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a43"
HM = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a51"
PROJECT = "7a1e0c55-2b3d-4e6f-8a9b-0c1d2e3f4a60"
LS = f"neutron-{NET}"
VIP = "10.20.0.100"
HM_SRC = "10.20.0.2"


def _port(name: str, mac: str, ip: str, owner: str, port_name: str, **extra: Any) -> RawOp:
    return {
        "op": "insert",
        "table": "Logical_Switch_Port",
        "row": {
            "_name": name,
            "name": name,
            "addresses": [f"{mac} {ip}"],
            "type": extra.get("type", ""),
            "external_ids": {
                "neutron:cidrs": f"{ip}/24",
                "neutron:device_owner": owner,
                "neutron:network_name": LS,
                "neutron:port_name": port_name,
                "neutron:project_id": PROJECT,
            },
        },
    }


def hm_topology() -> list[RawOp]:
    """One tenant network 10.20.0.0/24: VIP port, three VM ports, the HM port (spec 4.3)."""
    ports = [
        _port(VIP_PORT, "fa:16:3e:20:00:64", VIP, "ovn-lb:vip", f"ovn-lb-vip-{LB}"),
        _port(LSP1, "fa:16:3e:20:00:0b", "10.20.0.11", "compute:nova", "vm1"),
        _port(LSP2, "fa:16:3e:20:00:0c", "10.20.0.12", "compute:nova", "vm2"),
        _port(LSP3, "fa:16:3e:20:00:0d", "10.20.0.13", "compute:nova", "vm3"),
        _port(
            HM_PORT,
            "fa:16:3e:20:00:02",
            HM_SRC,
            "ovn-lb-hm:distributed",
            f"ovn-lb-hm-{SUBNET}",
            type="localport",
        ),
    ]
    switch: RawOp = {
        "op": "insert",
        "table": "Logical_Switch",
        "row": {
            "_name": LS,
            "name": LS,
            "ports": [VIP_PORT, LSP1, LSP2, LSP3, HM_PORT],
        },
    }
    return [*ports, switch]


def _member(mid: str, pool: str, ip: str) -> dict[str, Any]:
    return {
        "member_id": mid,
        "pool_id": pool,
        "address": ip,
        "protocol_port": 8080,
        "subnet_id": SUBNET,
        "admin_state_up": True,
    }


def build_hm_lb(driver: OvnLbDriver) -> list[Any]:
    """LB on 10.20.0.100; TCP 80 -> pool A (M1, M2, health monitor); TCP 81 -> pool B (M3)."""
    driver.lb_create(
        {
            "loadbalancer_id": LB,
            "vip_address": VIP,
            "vip_port_id": VIP_PORT,
            "vip_network_id": NET,
            "vip_subnet_id": SUBNET,
            "admin_state_up": True,
        }
    )
    for lid, port, pool in ((L80, 80, POOL_A), (L81, 81, POOL_B)):
        driver.listener_create(
            {
                "listener_id": lid,
                "loadbalancer_id": LB,
                "protocol": "TCP",
                "protocol_port": port,
                "admin_state_up": True,
            }
        )
        driver.pool_create(
            {
                "pool_id": pool,
                "loadbalancer_id": LB,
                "listener_id": lid,
                "protocol": "TCP",
                "lb_algorithm": "SOURCE_IP_PORT",
                "admin_state_up": True,
            }
        )
    driver.member_create(_member(M1, POOL_A, "10.20.0.11"))
    driver.member_create(_member(M2, POOL_A, "10.20.0.12"))
    driver.member_create(_member(M3, POOL_B, "10.20.0.13"))
    return driver.hm_create(
        {
            "healthmonitor_id": HM,
            "pool_id": POOL_A,
            "type": "TCP",
            "delay": 5,
            "timeout": 3,
            "max_retries": 2,
            "max_retries_down": 4,
            "admin_state_up": True,
        }
    )


def test_health_monitor_status_round_trip(ovn_northd: OvnSandbox, nb_backend: IdlBackend) -> None:
    sb = ovn_northd
    nb_backend.apply_raw(hm_topology())
    driver = OvnLbDriver(nb_backend, {SUBNET: Subnet(SUBNET, NET, "10.20.0.0/24")})
    [hm_report] = build_hm_lb(driver)
    assert hm_report["healthmonitors"] == [entry(HM, "ONLINE")]
    northd_sync(sb)

    # Spec 4.3: mappings "<member-ip>" -> "<member-LSP>:<HM port IP>" for pool A only.
    row = nb_lb(sb, LB)
    assert row["ip_port_mappings"] == {
        "10.20.0.11": f"{LSP1}:{HM_SRC}",
        "10.20.0.12": f"{LSP2}:{HM_SRC}",
    }
    # Exactly the health-checked members get a monitor (M3's pool has no health check).
    assert monitor_keys(sb) == {
        ("10.20.0.11", 8080, "tcp", LSP1, HM_SRC),
        ("10.20.0.12", 8080, "tcp", LSP2, HM_SRC),
    }
    assert {m.status for m in monitors(sb)} == {None}
    assert {tuple(sorted(m.options.items())) for m in monitors(sb)} == {
        (("failure_count", "4"), ("interval", "5"), ("success_count", "2"), ("timeout", "3"))
    }
    both = "10.20.0.11:8080,10.20.0.12:8080"
    assert backends(sb, VIP, 80) == {LS: {both}}
    assert backends(sb, VIP, 81) == {LS: {"10.20.0.13:8080"}}
    # hm_create sets the pool's members ONLINE (4.3); M3 (no monitor) keeps NO_MONITOR (1.9).
    assert member_status(sb, LB) == (
        f'{{"{M1}": "ONLINE", "{M2}": "ONLINE", "{M3}": "NO_MONITOR"}}'
    )

    # --- M1's probe fails: ovn-controller sets its monitor offline.
    set_monitor_status(sb, monitor_of(sb, "10.20.0.11"), "offline")
    # northd drops the backend from the flow at once (ovn-northd(8): only online/empty).
    assert poll(lambda: backends(sb, VIP, 80), {LS: {"10.20.0.12:8080"}}) == {
        LS: {"10.20.0.12:8080"}
    }
    mon = monitor_of(sb, "10.20.0.11")
    assert mon.status == "offline"
    reports = driver.member_health([to_event(mon)])
    # Spec 4.4/4.5: M1 ERROR; pool A has one ERROR of two -> DEGRADED, so listener 80 and the
    # LB are DEGRADED; pool B and listener 81 untouched. All four keys, no others.
    assert len(reports) == 1
    assert sorted_report(reports[0]) == sorted_report(
        {
            "loadbalancers": [entry(LB, "DEGRADED")],
            "listeners": [entry(L80, "DEGRADED"), entry(L81, "ONLINE")],
            "pools": [entry(POOL_A, "DEGRADED"), entry(POOL_B, "ONLINE")],
            "members": [entry(M1, "ERROR"), entry(M2, "ONLINE"), entry(M3, "NO_MONITOR")],
        }
    )
    assert member_status(sb, LB) == (f'{{"{M1}": "ERROR", "{M2}": "ONLINE", "{M3}": "NO_MONITOR"}}')
    # Spec 1.4: an ERROR member stays in vips (OVN's own health check skips it), and the
    # monitors and mappings are untouched, so northd's flows do not change either.
    row = nb_lb(sb, LB)
    assert row["vips"] == {f"{VIP}:80": both, f"{VIP}:81": "10.20.0.13:8080"}
    assert len(row["ip_port_mappings"]) == 2
    northd_sync(sb)
    assert backends(sb, VIP, 80) == {LS: {"10.20.0.12:8080"}}
    assert backends(sb, VIP, 81) == {LS: {"10.20.0.13:8080"}}

    # --- M1 answers again.
    set_monitor_status(sb, monitor_of(sb, "10.20.0.11"), "online")
    assert poll(lambda: backends(sb, VIP, 80), {LS: {both}}) == {LS: {both}}
    mon = monitor_of(sb, "10.20.0.11")
    assert mon.status == "online"
    reports = driver.member_health([to_event(mon)])
    assert len(reports) == 1
    assert sorted_report(reports[0]) == sorted_report(
        {
            "loadbalancers": [entry(LB, "ONLINE")],
            "listeners": [entry(L80, "ONLINE"), entry(L81, "ONLINE")],
            "pools": [entry(POOL_A, "ONLINE"), entry(POOL_B, "ONLINE")],
            "members": [entry(M1, "ONLINE"), entry(M2, "ONLINE"), entry(M3, "NO_MONITOR")],
        }
    )
    assert member_status(sb, LB) == (
        f'{{"{M1}": "ONLINE", "{M2}": "ONLINE", "{M3}": "NO_MONITOR"}}'
    )
    northd_sync(sb)
    assert backends(sb, VIP, 80) == {LS: {both}}


def test_last_backend_offline_is_dropped_and_pool_errors(
    ovn_northd: OvnSandbox, nb_backend: IdlBackend
) -> None:
    """Both monitored members offline: northd drops the VIP's traffic; pool and LB ERROR (4.5)."""
    sb = ovn_northd
    nb_backend.apply_raw(hm_topology())
    driver = OvnLbDriver(nb_backend, {SUBNET: Subnet(SUBNET, NET, "10.20.0.0/24")})
    build_hm_lb(driver)
    northd_sync(sb)
    set_monitor_status(sb, monitor_of(sb, "10.20.0.11"), "offline")
    set_monitor_status(sb, monitor_of(sb, "10.20.0.12"), "offline")
    assert poll(lambda: backends(sb, VIP, 80), {LS: {"drop"}}) == {LS: {"drop"}}
    assert backends(sb, VIP, 81) == {LS: {"10.20.0.13:8080"}}

    events = [to_event(monitor_of(sb, ip)) for ip in ("10.20.0.11", "10.20.0.12")]
    assert [e["row"]["status"] for e in events] == ["offline", "offline"]
    first, second = driver.member_health(events)
    # One report per event (4.4). After the first, one of two members is ERROR: DEGRADED;
    # after the second, every member of pool A is ERROR: ERROR, up to the LB.
    assert sorted_report(first) == sorted_report(
        {
            "loadbalancers": [entry(LB, "DEGRADED")],
            "listeners": [entry(L80, "DEGRADED"), entry(L81, "ONLINE")],
            "pools": [entry(POOL_A, "DEGRADED"), entry(POOL_B, "ONLINE")],
            "members": [entry(M1, "ERROR"), entry(M2, "ONLINE"), entry(M3, "NO_MONITOR")],
        }
    )
    assert sorted_report(second) == sorted_report(
        {
            "loadbalancers": [entry(LB, "ERROR")],
            "listeners": [entry(L80, "ERROR"), entry(L81, "ONLINE")],
            "pools": [entry(POOL_A, "ERROR"), entry(POOL_B, "ONLINE")],
            "members": [entry(M1, "ERROR"), entry(M2, "ERROR"), entry(M3, "NO_MONITOR")],
        }
    )
    assert member_status(sb, LB) == (f'{{"{M1}": "ERROR", "{M2}": "ERROR", "{M3}": "NO_MONITOR"}}')
