"""Each deviation from the reference driver listed in docs/compat.md, pinned.

The scenarios run on the walkthrough's topology (reference-behavior.md 11.1)
through the driver and the in-memory backend; expected values are the
spec's formats with the corrected behaviour.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_backends.service.sync import run_sync
from ovnlb_core import events as ev
from ovnlb_core import requests as rq
from ovnlb_core import sync as core
from ovnlb_core.errors import NotFoundError, RowParseError, UnsupportedOptionError
from ovnlb_core.model import ProtocolRow
from ovnlb_core.parse import parse
from ovnlb_core.plan import LbUpdate, LoadBalancerRow, MapDelta, Plan
from ovnlb_core.rows import lb_rowset
from ovnlb_core.topology import Subnet, Topology

UDP_LISTENER = "31e77cde-854f-4c3e-bd8c-9536ae0443bc"
UDP_POOL = "998be8a2-5185-4f3b-8658-a56457f595a9"
POOL2 = "a98be8a2-5185-4f3b-8658-a56457f595a9"
MEMBER2 = "bdf55e70-3d50-4e62-99fd-dd77eababb1c"


def _member(**kw: Any) -> dict[str, Any]:
    m = {
        "member_id": demo.MEMBER,
        "pool_id": demo.POOL,
        "address": "10.10.10.10",
        "protocol_port": 63015,
        "subnet_id": demo.MEMBER_SUBNET,
        "admin_state_up": True,
    }
    m.update(kw)
    return m


def _pool(**kw: Any) -> dict[str, Any]:
    p = {
        "pool_id": demo.POOL,
        "loadbalancer_id": demo.LB,
        "listener_id": demo.LISTENER,
        "protocol": "TCP",
        "lb_algorithm": "SOURCE_IP_PORT",
        "admin_state_up": True,
    }
    p.update(kw)
    return p


def _listener(**kw: Any) -> dict[str, Any]:
    li = {
        "listener_id": demo.LISTENER,
        "loadbalancer_id": demo.LB,
        "protocol": "TCP",
        "protocol_port": 64015,
        "admin_state_up": True,
    }
    li.update(kw)
    return li


def _hm(**kw: Any) -> dict[str, Any]:
    hm = {
        "healthmonitor_id": demo.HM,
        "pool_id": demo.POOL,
        "type": "TCP",
        "delay": 10,
        "timeout": 5,
        "max_retries": 3,
        "max_retries_down": 3,
        "admin_state_up": True,
    }
    hm.update(kw)
    return hm


@pytest.fixture
def driver() -> OvnLbDriver:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    d = OvnLbDriver(backend, demo.SUBNETS)
    d.lb_create(
        {
            "loadbalancer_id": demo.LB,
            "vip_address": "172.24.4.9",
            "vip_port_id": demo.VIP_PORT,
            "vip_network_id": demo.NET,
            "vip_subnet_id": demo.VIP_SUBNET,
            "admin_state_up": True,
        }
    )
    return d


def _rows(d: OvnLbDriver) -> dict[str | None, LoadBalancerRow]:
    return {r.protocol: r for r in lb_rowset(d.backend.reader(), demo.LB).lbs.values()}


def _tcp_lb_with_member(d: OvnLbDriver, **member: Any) -> None:
    d.listener_create(_listener())
    d.pool_create(_pool())
    d.member_create(_member(**member))


def test_b1_new_protocol_row_keeps_lb_admin_state(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener())
    driver.listener_create(
        _listener(listener_id=UDP_LISTENER, protocol="UDP", protocol_port=53, admin_state_up=False)
    )
    assert _rows(driver)["udp"].external_ids["enabled"] == "True"


def test_b2_new_protocol_row_counts_only_vip_switch(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    driver.listener_create(_listener(listener_id=UDP_LISTENER, protocol="UDP", protocol_port=53))
    rows = _rows(driver)
    assert rows["tcp"].external_ids["ls_refs"] == (
        '{"neutron-ee97665d-69d0-4995-a275-27855359956a": 1, '
        '"neutron-5b2c8d7e-1f3a-4c9b-8e6d-2a7f0c1b9d34": 1}'
    )
    assert rows["udp"].external_ids["ls_refs"] == (
        '{"neutron-ee97665d-69d0-4995-a275-27855359956a": 1}'
    )


def test_b3_disabled_pool_listener_reference(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener())
    driver.pool_create(_pool(admin_state_up=False))
    driver.member_create(_member())
    row = _rows(driver)["tcp"]
    assert row.external_ids[f"listener_{demo.LISTENER}"] == f"64015:pool_{demo.POOL}"
    assert f"pool_{demo.POOL}:D" in row.external_ids
    assert row.vips == {}
    driver.pool_update(_pool(admin_state_up=False), {"admin_state_up": True})
    assert _rows(driver)["tcp"].vips == {"172.24.4.9:64015": "10.10.10.10:63015"}


def test_b4_disabled_listener_gets_pool(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener(admin_state_up=False))
    driver.pool_create(_pool())
    row = _rows(driver)["tcp"]
    assert row.external_ids[f"listener_{demo.LISTENER}:D"] == f"64015:pool_{demo.POOL}"


def test_b5_default_pool_removed(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    statuses = driver.listener_update(
        _listener(default_pool_id=demo.POOL), {"default_pool_id": None}
    )
    row = _rows(driver)["tcp"]
    assert row.external_ids[f"listener_{demo.LISTENER}"] == "64015:"
    assert row.vips == {}
    assert statuses[0]["pools"] == []


def test_b6_b7_persistence_update(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    statuses = driver.pool_update(
        _pool(), {"session_persistence": {"type": "SOURCE_IP", "persistence_timeout": 90}}
    )
    assert statuses[0]["pools"][0]["provisioning_status"] == "ACTIVE"
    assert _rows(driver)["tcp"].options == {"affinity_timeout": "90"}
    driver.pool_update(
        _pool(session_persistence={"type": "SOURCE_IP"}), {"session_persistence": None}
    )
    assert _rows(driver)["tcp"].options == {}


def test_b9_algorithm_update_applied(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    driver.pool_update(_pool(), {"lb_algorithm": "SOURCE_IP"})
    assert _rows(driver)["tcp"].selection_fields == ("ip_dst", "ip_src")


def test_b10_affinity_kept_for_other_pool(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener())
    sp = {"type": "SOURCE_IP", "persistence_timeout": 120}
    driver.pool_create(_pool(session_persistence=sp))
    driver.pool_create(_pool(pool_id=POOL2, listener_id=None, session_persistence=sp))
    driver.view.pools[POOL2] = _pool(pool_id=POOL2, session_persistence=sp)
    driver.pool_delete(_pool())
    assert _rows(driver)["tcp"].options == {"affinity_timeout": "120"}


def test_b14_listener_update_retargets_checks(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener())
    driver.pool_create(_pool(listener_id=None))
    driver.member_create(_member())
    driver.hm_create(_hm())
    (hc,) = lb_rowset(driver.backend.reader(), demo.LB).health_checks.values()
    assert hc.vip == ""
    driver.listener_update(_listener(), {"default_pool_id": demo.POOL})
    (hc,) = lb_rowset(driver.backend.reader(), demo.LB).health_checks.values()
    assert hc.vip == "172.24.4.9:64015"


def test_b15_hm_on_disabled_pool(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener())
    driver.pool_create(_pool(admin_state_up=False))
    driver.member_create(_member())
    statuses = driver.hm_create(_hm())
    assert statuses[0]["healthmonitors"][0]["provisioning_status"] == "ACTIVE"
    (hc,) = lb_rowset(driver.backend.reader(), demo.LB).health_checks.values()
    assert hc.external_ids["octavia:pool_id"] == demo.POOL


def _with_hm(d: OvnLbDriver) -> None:
    _tcp_lb_with_member(d)
    d.member_create(_member(member_id=MEMBER2, address="10.10.10.1", protocol_port=63015))
    d.hm_create(_hm())


def _sm_event(status: str | None, kind: str = "update", ip: str = "10.10.10.10") -> dict[str, Any]:
    return {
        "type": kind,
        "row": {
            "ip": ip,
            "port": 63015,
            "protocol": "tcp",
            "logical_port": demo.MEMBER_PORT,
            "src_ip": "10.10.10.3",
            "status": status,
        },
    }


def _status_of(d: OvnLbDriver, member: str) -> str:
    import json

    statuses = json.loads(_rows(d)["tcp"].external_ids["neutron:member_status"])
    return str(statuses[member])


VM2_PORT = "0c6f4a52-93d1-4e8b-b7a2-5d1e9f3c8a61"


def test_b16_exact_member_match(driver: OvnLbDriver) -> None:
    # 10.10.10.1:63015 is a substring of member 10.10.10.10:63015's entry.
    lsp = {"_name": VM2_PORT, "name": VM2_PORT, "addresses": ["fa:16:3e:00:00:11 10.10.10.1"]}
    ports = [demo.RI_MEMBER, demo.MEMBER_PORT, demo.HM_PORT, VM2_PORT]
    driver.backend.apply_raw(
        [
            {"op": "insert", "table": "Logical_Switch_Port", "row": lsp},
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": f"neutron-{demo.MEMBER_NET}",
                "columns": {"ports": ports},
            },
        ]
    )
    _with_hm(driver)
    assert _status_of(driver, MEMBER2) == "ONLINE"
    event = _sm_event("offline", ip="10.10.10.1")
    event["row"]["logical_port"] = VM2_PORT
    driver.member_health([event])
    assert _status_of(driver, MEMBER2) == "ERROR"
    assert _status_of(driver, demo.MEMBER) == "ONLINE"


def test_b17_error_status(driver: OvnLbDriver) -> None:
    _with_hm(driver)
    statuses = driver.member_health([_sm_event("error")])
    assert _status_of(driver, demo.MEMBER) == "ERROR"
    assert {
        "id": demo.MEMBER,
        "provisioning_status": "ACTIVE",
        "operating_status": "ERROR",
    } in statuses[0]["members"]


def test_b18_monitor_delete(driver: OvnLbDriver) -> None:
    _with_hm(driver)
    driver.member_health([_sm_event(None, kind="delete")])
    assert _status_of(driver, demo.MEMBER) == "NO_MONITOR"
    assert "10.10.10.10:63015" in _rows(driver)["tcp"].vips["172.24.4.9:64015"]


def test_b36_empty_pool_online(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    statuses = driver.member_delete(_member())
    assert statuses[0]["pools"] == [
        {"id": demo.POOL, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
    ]


def test_b40_router_switch_stays(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    driver.member_delete(_member())
    rows = lb_rowset(driver.backend.reader(), demo.LB)
    (uuid,) = rows.lbs
    assert f"neutron-{demo.MEMBER_NET}" in rows.switches[uuid]
    assert rows.lbs[uuid].external_ids["ls_refs"] == (
        '{"neutron-ee97665d-69d0-4995-a275-27855359956a": 1}'
    )


def test_b41_update_without_admin_state(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver, admin_state_up=False)
    statuses = driver.member_update(_member(admin_state_up=False), {"weight": 5})
    assert _status_of(driver, demo.MEMBER) == "OFFLINE"
    assert statuses[0]["members"][0]["operating_status"] == "OFFLINE"
    assert _rows(driver)["tcp"].vips == {}


def test_b49_disabled_listener_delete(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener(admin_state_up=False))
    driver.listener_delete(_listener(admin_state_up=False))
    row = _rows(driver)[None]
    assert not any(k.startswith("listener_") for k in row.external_ids)


def test_b51_disabled_pool_delete_cleans_the_row(driver: OvnLbDriver) -> None:
    # The only row: a disabled pool without listener is its last pool/listener key.
    driver.pool_create(_pool(listener_id=None, admin_state_up=False))
    assert _rows(driver)["tcp"].external_ids[f"pool_{demo.POOL}:D"] == ""
    driver.pool_delete(_pool(listener_id=None, admin_state_up=False))
    rows = _rows(driver)
    assert list(rows) == [None]  # spec 2.4: protocol cleared, the row kept
    assert not any(k.startswith(("pool_", "listener_")) for k in rows[None].external_ids)
    # A row among several: a UDP row holding only a disabled pool is deleted with it.
    driver.listener_create(_listener())
    udp = _pool(pool_id=UDP_POOL, listener_id=None, protocol="UDP", admin_state_up=False)
    driver.pool_create(udp)
    assert set(_rows(driver)) == {"tcp", "udp"}
    driver.pool_delete(udp)
    assert set(_rows(driver)) == {"tcp"}


def test_u1_disabled_member_through_hm(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver, admin_state_up=False)
    driver.hm_create(_hm())
    assert _status_of(driver, demo.MEMBER) == "OFFLINE"
    assert _rows(driver)["tcp"].ip_port_mappings == {}
    driver.hm_delete(_hm())
    assert _status_of(driver, demo.MEMBER) == "OFFLINE"
    assert _rows(driver)["tcp"].vips == {}


def test_hm_on_sctp_pool_is_refused(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener(protocol="SCTP"))
    driver.pool_create(_pool(protocol="SCTP"))
    before = driver.backend.transaction_count()
    with pytest.raises(UnsupportedOptionError):
        driver.hm_create(_hm())
    assert driver.backend.transaction_count() == before


def test_b8_unsupported_persistence_type(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener())
    before = driver.backend.transaction_count()
    with pytest.raises(UnsupportedOptionError) as info:
        driver.pool_create(_pool(session_persistence={"type": "HTTP_COOKIE"}))
    # The message the reference meant to send (spec section 7, V3).
    assert (
        "OVN provider does not support HTTP_COOKIE session persistence. "
        "Only SOURCE_IP type is supported."
    ) in str(info.value)
    assert driver.backend.transaction_count() == before
    driver.pool_create(_pool())
    with pytest.raises(UnsupportedOptionError):
        driver.pool_update(_pool(), {"session_persistence": {"type": "APP_COOKIE"}})
    assert _rows(driver)["tcp"].options == {}


V6_SUBNET = "4eed0c05-6527-400e-bb80-df6e59d248f1"
LISTENER2 = "41e77cde-854f-4c3e-bd8c-9536ae0443bc"


def test_b11_ipv6_health_check_retarget_keeps_brackets() -> None:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    subnets = {**demo.SUBNETS, V6_SUBNET: Subnet(V6_SUBNET, demo.NET, "2001:db8::/64")}
    d = OvnLbDriver(backend, subnets)
    d.lb_create(
        {
            "loadbalancer_id": demo.LB,
            "vip_address": "2001:db8::9",
            "vip_network_id": demo.NET,
            "vip_subnet_id": V6_SUBNET,
            "admin_state_up": True,
        }
    )
    d.listener_create(_listener(protocol_port=80))
    d.pool_create(_pool())
    d.hm_create(_hm())
    (hc,) = lb_rowset(backend.reader(), demo.LB).health_checks.values()
    assert hc.vip == "[2001:db8::9]:80"
    # A second listener taking the pool moves the check to its port (spec 4.2); the
    # reference cut "[2001:db8::9]:80" at the first ":" and wrote "[2001:8080".
    d.listener_create(
        _listener(listener_id=LISTENER2, protocol_port=8080, default_pool_id=demo.POOL)
    )
    (hc,) = lb_rowset(backend.reader(), demo.LB).health_checks.values()
    assert hc.vip == "[2001:db8::9]:8080"


ADD_VIP_PORT = "d98e52d0-5965-4b22-8a17-a374f4399193"


def test_b12_each_fip_check_names_its_own_fip() -> None:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    d = OvnLbDriver(backend, demo.SUBNETS)
    d.lb_create(
        {
            "loadbalancer_id": demo.LB,
            "vip_address": "172.24.4.9",
            "vip_port_id": demo.VIP_PORT,
            "vip_network_id": demo.NET,
            "vip_subnet_id": demo.VIP_SUBNET,
            "additional_vips": [
                {"ip_address": "172.24.4.19", "subnet_id": demo.VIP_SUBNET, "port_id": ADD_VIP_PORT}
            ],
            "admin_state_up": True,
        }
    )
    d.listener_create(_listener())
    d.pool_create(_pool())
    d.fip_associate(demo.LB, "203.0.113.10", "vip", demo.VIP_PORT, "172.24.4.9")
    d.fip_associate(demo.LB, "203.0.113.11", "additional_vip", ADD_VIP_PORT, "172.24.4.19")
    d.hm_create(_hm())
    hcs = lb_rowset(backend.reader(), demo.LB).health_checks.values()
    by_vip = {h.external_ids["octavia:vip"]: h.vip for h in hcs}
    # One check per VIP and per FIP, each naming its own address (spec 4.2; B12 gave every
    # FIP check the last FIP).
    assert by_vip == {
        "172.24.4.9": "172.24.4.9:64015",
        "172.24.4.19": "172.24.4.19:64015",
        "203.0.113.10": "203.0.113.10:64015",
        "203.0.113.11": "203.0.113.11:64015",
    }


MEMBER_FIP_NAT = "nat-7ef31e8f-a8e7-5b28-a0d1-422438e8bd52"
MEMBER3 = "cdf55e70-3d50-4e62-99fd-dd77eababb1c"


def test_b19_every_member_fip_is_centralised(driver: OvnLbDriver) -> None:
    nat = {
        "_name": MEMBER_FIP_NAT,
        "type": "dnat_and_snat",
        "external_ip": "203.0.113.50",
        "external_mac": "fa:16:3e:00:00:50",
        "logical_ip": "10.10.10.10",
        "logical_port": demo.MEMBER_PORT,
        "external_ids": {"neutron:fip_port_id": demo.MEMBER_PORT},
    }
    driver.backend.apply_raw(
        [
            {"op": "insert", "table": "NAT", "row": nat},
            {
                "op": "update",
                "table": "Logical_Router",
                "name": f"neutron-{demo.ROUTER}",
                "columns": {"nat": [MEMBER_FIP_NAT]},
            },
        ]
    )
    driver.listener_create(_listener())
    driver.pool_create(_pool())
    driver.fip_associate(demo.LB, "203.0.113.10", "vip", demo.VIP_PORT, "172.24.4.9")
    # The first member of the batch has no port (so no FIP): the reference stopped there.
    driver.member_batch_update(
        demo.POOL,
        [
            _member(member_id=MEMBER3, address="10.10.10.77"),
            _member(),
        ],
    )
    (row,) = driver.backend.reader().rows("NAT").values()
    # Spec 6.4: the member's FIP is centralised: external_mac and logical_port cleared.
    assert row.get("external_mac") is None
    assert row.get("logical_port") is None
    assert row["external_ip"] == "203.0.113.50"


def test_b31_fip_associate_is_idempotent_and_replaces(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    driver.hm_create(_hm())
    for _ in range(2):
        driver.fip_associate(demo.LB, "203.0.113.10", "vip", demo.VIP_PORT, "172.24.4.9")
    rows = lb_rowset(driver.backend.reader(), demo.LB)
    assert sorted(h.external_ids["octavia:vip"] for h in rows.health_checks.values()) == [
        "172.24.4.9",
        "203.0.113.10",
    ]
    assert _rows(driver)["tcp"].vips == {
        "172.24.4.9:64015": "10.10.10.10:63015",
        "203.0.113.10:64015": "10.10.10.10:63015",
    }
    # A -> B: A's vips entry and its health check go, B's come (the reference kept A's check).
    driver.fip_associate(demo.LB, "203.0.113.20", "vip", demo.VIP_PORT, "172.24.4.9")
    rows = lb_rowset(driver.backend.reader(), demo.LB)
    assert {h.external_ids["octavia:vip"]: h.vip for h in rows.health_checks.values()} == {
        "172.24.4.9": "172.24.4.9:64015",
        "203.0.113.20": "203.0.113.20:64015",
    }
    assert _rows(driver)["tcp"].external_ids["neutron:vip_fip"] == "203.0.113.20"
    assert set(_rows(driver)["tcp"].vips) == {"172.24.4.9:64015", "203.0.113.20:64015"}


def test_b31_additional_fip_twice_then_disassociate(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    for _ in range(2):
        driver.fip_associate(demo.LB, "203.0.113.30", "additional_vip", demo.VIP_PORT, None)
    assert _rows(driver)["tcp"].external_ids["neutron:additional_vip_fips"] == "203.0.113.30"
    driver.fip_disassociate(demo.LB, "203.0.113.30")
    row = _rows(driver)["tcp"]
    assert "neutron:additional_vip_fips" not in row.external_ids
    assert set(row.vips) == {"172.24.4.9:64015"}


# -- B12b..B50: the rest of spec section 10 --------------------------------------------------

VM2_ADDR = "10.10.10.1"
HM_MAPPING = f"{demo.MEMBER_PORT}:10.10.10.3"  # spec 4.3: <member LSP>:<HM port source IP>


def _add_vm2_port(d: OvnLbDriver) -> None:
    """A second VM port (10.10.10.1) on the member network, as in test_b16."""
    lsp = {"_name": VM2_PORT, "name": VM2_PORT, "addresses": [f"fa:16:3e:00:00:11 {VM2_ADDR}"]}
    ports = [demo.RI_MEMBER, demo.MEMBER_PORT, demo.HM_PORT, VM2_PORT]
    d.backend.apply_raw(
        [
            {"op": "insert", "table": "Logical_Switch_Port", "row": lsp},
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": f"neutron-{demo.MEMBER_NET}",
                "columns": {"ports": ports},
            },
        ]
    )


def _hcs(d: OvnLbDriver) -> dict[str, str]:
    """``octavia:vip`` -> ``vip`` of every health check of the demo load balancer."""
    hcs = lb_rowset(d.backend.reader(), demo.LB).health_checks.values()
    return {h.external_ids["octavia:vip"]: h.vip for h in hcs}


def _member_status(d: OvnLbDriver) -> dict[str, str]:
    value = _rows(d)["tcp"].external_ids.get("neutron:member_status", "{}")
    return dict(json.loads(value))


def _lsp_count(d: OvnLbDriver) -> int:
    return len(d.backend.reader().rows("Logical_Switch_Port"))


def test_b13_disabled_health_monitor_does_not_probe(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    statuses = driver.hm_create(_hm(admin_state_up=False))
    assert statuses[0]["healthmonitors"] == [
        {"id": demo.HM, "provisioning_status": "ACTIVE", "operating_status": "OFFLINE"}
    ]
    row = _rows(driver)["tcp"]
    # No Load_Balancer_Health_Check, so OVN probes nothing; the monitor is still listed.
    assert _hcs(driver) == {}
    assert row.health_check == ()
    assert row.external_ids["octavia:healthmonitors"] == f'["{demo.HM}"]'
    assert row.ip_port_mappings == {}
    assert _member_status(driver) == {demo.MEMBER: "NO_MONITOR"}
    # Enabled: the checks of spec 4.2 with every timer of the monitor, members mapped (4.3).
    statuses = driver.hm_update(_hm(admin_state_up=False), {"admin_state_up": True})
    assert statuses[0]["healthmonitors"] == [
        {"id": demo.HM, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
    ]
    (hc,) = lb_rowset(driver.backend.reader(), demo.LB).health_checks.values()
    assert hc.vip == "172.24.4.9:64015"
    assert hc.options == {
        "interval": "10",
        "timeout": "5",
        "success_count": "3",
        "failure_count": "3",
    }
    assert _rows(driver)["tcp"].ip_port_mappings == {"10.10.10.10": HM_MAPPING}
    assert _member_status(driver) == {demo.MEMBER: "ONLINE"}
    # Disabled again: checks and mappings go, members back to NO_MONITOR, still listed.
    statuses = driver.hm_update(_hm(), {"admin_state_up": False})
    assert statuses[0]["healthmonitors"][0]["operating_status"] == "OFFLINE"
    assert statuses[0]["members"] == [
        {"id": demo.MEMBER, "provisioning_status": "ACTIVE", "operating_status": "NO_MONITOR"}
    ]
    row = _rows(driver)["tcp"]
    assert _hcs(driver) == {} and row.ip_port_mappings == {}
    assert row.external_ids["octavia:healthmonitors"] == f'["{demo.HM}"]'
    assert row.vips == {"172.24.4.9:64015": "10.10.10.10:63015"}
    driver.hm_delete(_hm(admin_state_up=False))
    assert "octavia:healthmonitors" not in _rows(driver)["tcp"].external_ids


def test_b28_b35_lb_create_without_a_port_for_the_vip(driver: OvnLbDriver) -> None:
    # A port holding 172.24.4.55 (which contains the text "172.24.4.5") is not the VIP's port.
    other = "e98e52d0-5965-4b22-8a17-a374f4399193"
    lsp = {"_name": other, "name": other, "addresses": ["fa:16:3e:00:00:55 172.24.4.55"]}
    driver.backend.apply_raw(
        [
            {"op": "insert", "table": "Logical_Switch_Port", "row": lsp},
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": f"neutron-{demo.NET}",
                "columns": {"ports": [demo.RI_VIP, demo.VIP_PORT, other]},
            },
        ]
    )
    lb2 = "a4e7c431-912b-496c-a247-d52875d44ac7"
    statuses = driver.lb_create(
        {
            "loadbalancer_id": lb2,
            "vip_address": "172.24.4.5",
            "vip_network_id": demo.NET,
            "vip_subnet_id": demo.VIP_SUBNET,
        }
    )
    assert statuses == [
        {
            "loadbalancers": [
                {"id": lb2, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
            ]
        }
    ]
    (row,) = lb_rowset(driver.backend.reader(), lb2).lbs.values()
    assert row.external_ids["neutron:vip"] == "172.24.4.5"
    assert "neutron:vip_port_id" not in row.external_ids
    # Found by exact address when it exists (spec 3.3 step 1).
    lb3 = "b4e7c431-912b-496c-a247-d52875d44ac7"
    driver.lb_create(
        {"loadbalancer_id": lb3, "vip_address": "172.24.4.55", "vip_network_id": demo.NET}
    )
    (row,) = lb_rowset(driver.backend.reader(), lb3).lbs.values()
    assert row.external_ids["neutron:vip_port_id"] == other


def test_b29_lb_delete_deletes_no_port(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    driver.hm_create(_hm())
    ports = dict(driver.backend.reader().rows("Logical_Switch_Port"))
    driver.lb_delete(
        {
            "loadbalancer_id": demo.LB,
            "vip_address": "172.24.4.9",
            "vip_port_id": demo.VIP_PORT,
            "additional_vips": [
                {"ip_address": "172.24.4.19", "subnet_id": demo.VIP_SUBNET, "port_id": ADD_VIP_PORT}
            ],
        },
        cascade=True,
    )
    assert lb_rowset(driver.backend.reader(), demo.LB).lbs == {}
    # VIP, additional VIP and HM ports are Neutron's: nothing ovnlb writes touches them.
    assert dict(driver.backend.reader().rows("Logical_Switch_Port")) == ports


ROUTER2 = "4d2a873b-b5b4-4d14-ac24-47a835fd47b2"
RI_MEMBER2 = "1a2b3c4d-0000-4000-8000-000000000004"


def test_b30_lb_delete_detaches_every_router(driver: OvnLbDriver) -> None:
    # A second router with an interface on the member subnet: lr_ref becomes a comma list.
    ri = {
        "_name": RI_MEMBER2,
        "name": RI_MEMBER2,
        "addresses": ["router"],
        "type": "router",
        "options": {"router-port": f"lrp-{RI_MEMBER2}"},
        "external_ids": {
            "neutron:cidrs": "10.10.10.254/24",
            "neutron:device_owner": "network:router_interface",
            "neutron:network_name": f"neutron-{demo.MEMBER_NET}",
        },
    }
    lrp = {
        "_name": f"lrp-{RI_MEMBER2}",
        "name": f"lrp-{RI_MEMBER2}",
        "mac": "fa:16:3e:00:00:02",
        "networks": ["10.10.10.254/24"],
        "external_ids": {
            "neutron:network_name": f"neutron-{demo.MEMBER_NET}",
            "neutron:router_name": f"neutron-{ROUTER2}",
        },
    }
    driver.backend.apply_raw(
        [
            {"op": "insert", "table": "Logical_Switch_Port", "row": ri},
            {"op": "insert", "table": "Logical_Router_Port", "row": lrp},
            {
                "op": "insert",
                "table": "Logical_Router",
                "row": {
                    "_name": f"neutron-{ROUTER2}",
                    "name": f"neutron-{ROUTER2}",
                    "ports": [f"lrp-{RI_MEMBER2}"],
                },
            },
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": f"neutron-{demo.MEMBER_NET}",
                "columns": {"ports": [demo.RI_MEMBER, demo.MEMBER_PORT, demo.HM_PORT, RI_MEMBER2]},
            },
        ]
    )
    _tcp_lb_with_member(driver)
    rows = lb_rowset(driver.backend.reader(), demo.LB)
    (uuid,) = rows.lbs
    assert rows.lbs[uuid].external_ids["lr_ref"] == f"neutron-{demo.ROUTER},neutron-{ROUTER2}"
    assert rows.routers[uuid] == {f"neutron-{demo.ROUTER}", f"neutron-{ROUTER2}"}
    driver.lb_delete({"loadbalancer_id": demo.LB, "vip_address": "172.24.4.9"})
    reader = driver.backend.reader()
    for table in ("Logical_Router", "Logical_Switch"):
        assert all(not r.get("load_balancer") for r in reader.rows(table).values()), table


def test_b34_batch_update_with_and_without_admin_state(driver: OvnLbDriver) -> None:
    _add_vm2_port(driver)
    _tcp_lb_with_member(driver)
    driver.member_create(_member(member_id=MEMBER2, address=VM2_ADDR))
    driver.hm_create(_hm())
    first = {k: v for k, v in _member().items() if k != "admin_state_up"}
    statuses = driver.member_batch_update(
        demo.POOL, [first, _member(member_id=MEMBER2, address=VM2_ADDR, admin_state_up=False)]
    )
    assert statuses[0]["members"] == [
        {"id": demo.MEMBER, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"},
        {"id": MEMBER2, "provisioning_status": "ACTIVE", "operating_status": "OFFLINE"},
    ]
    row = _rows(driver)["tcp"]
    assert row.vips == {"172.24.4.9:64015": "10.10.10.10:63015"}
    assert row.ip_port_mappings == {"10.10.10.10": HM_MAPPING}


def test_b35_router_reference_is_an_exact_name() -> None:

    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    topo = Topology(backend.reader(), demo.SUBNETS)
    router = f"neutron-{demo.ROUTER}"
    # An lr_ref entry that merely contains the router's name is another router.
    row = ProtocolRow(uuid=demo.LB, vip="172.24.4.9", lr_ref=(f"{router}0",))
    out = rq.associate_lr(row, topo, router)
    assert out.lr_ref == (f"{router}0", router)
    assert rq.associate_lr(out, topo, router).lr_ref == (f"{router}0", router)


def test_b38_legacy_member_entry_is_a_named_parse_error(driver: OvnLbDriver) -> None:

    _tcp_lb_with_member(driver)
    (uuid,) = lb_rowset(driver.backend.reader(), demo.LB).lbs
    # The documented legacy form (spec 10.6): no "_<subnet>" suffix.
    legacy = f"member_{demo.MEMBER}_10.10.10.10:63015"
    driver.backend.commit(
        Plan(
            lb_updates=(
                LbUpdate(
                    uuid, protocol="tcp", external_ids=MapDelta({f"pool_{demo.POOL}": legacy})
                ),
            )
        )
    )
    rows = lb_rowset(driver.backend.reader(), demo.LB)
    with pytest.raises(RowParseError) as info:
        parse(demo.LB, rows)
    err = info.value
    assert (err.row, err.key) == (f"{demo.LB}/tcp", f"pool_{demo.POOL}")
    # A request on that load balancer stops with the same error and writes nothing.
    before = driver.backend.transaction_count()
    with pytest.raises(RowParseError):
        driver.member_create(_member(member_id=MEMBER2, address=VM2_ADDR))
    assert driver.backend.transaction_count() == before
    # With an issues list (what sync does) it is reported and the pool left out.
    issues: list[RowParseError] = []
    state = parse(demo.LB, rows, issues)
    assert [i.key for i in issues] == [f"pool_{demo.POOL}"]
    assert state.rows[0].pool(demo.POOL) is None


def _no_hm_port_driver() -> OvnLbDriver:
    ops = [op for op in demo.topology_ops() if op["row"]["_name"] != demo.HM_PORT]
    for op in ops:
        if op["row"]["_name"] == f"neutron-{demo.MEMBER_NET}":
            op["row"]["ports"] = [demo.RI_MEMBER, demo.MEMBER_PORT]
    backend = MemoryBackend()
    backend.apply_raw(ops)
    d = OvnLbDriver(backend, demo.SUBNETS)
    d.lb_create(
        {
            "loadbalancer_id": demo.LB,
            "vip_address": "172.24.4.9",
            "vip_port_id": demo.VIP_PORT,
            "vip_network_id": demo.NET,
            "vip_subnet_id": demo.VIP_SUBNET,
        }
    )
    return d


def test_b39_b42_health_monitor_without_source_port() -> None:
    d = _no_hm_port_driver()
    _tcp_lb_with_member(d)
    ports = _lsp_count(d)
    statuses = d.hm_create(_hm())
    # Spec 4.3 step 4: no source IP -> the HM reply is ERROR/ERROR; the member is not left
    # ONLINE (B42) and no port is created (ovnlb never writes ports; B39).
    assert statuses[0]["healthmonitors"] == [
        {"id": demo.HM, "provisioning_status": "ERROR", "operating_status": "ERROR"}
    ]
    assert _member_status(d) == {demo.MEMBER: "ERROR"}
    assert _rows(d)["tcp"].ip_port_mappings == {}
    d.member_delete(_member())
    assert _lsp_count(d) == ports
    assert "neutron:member_status" not in _rows(d)["tcp"].external_ids


def test_b44_fip_check_of_a_portless_check_gets_the_listener_port(driver: OvnLbDriver) -> None:

    # Pool without listener: the VIP check and its FIP copy have vip "" (spec 4.2) ...
    driver.listener_create(_listener())
    driver.pool_create(_pool(listener_id=None))
    driver.member_create(_member())
    driver.hm_create(_hm())
    driver.fip_associate(demo.LB, "203.0.113.10", "vip", demo.VIP_PORT, "172.24.4.9")
    assert _hcs(driver) == {"172.24.4.9": "", "203.0.113.10": ""}
    # ... until a listener takes the pool: both get its port.
    driver.listener_update(_listener(), {"default_pool_id": demo.POOL})
    assert _hcs(driver) == {"172.24.4.9": "172.24.4.9:64015", "203.0.113.10": "203.0.113.10:64015"}
    # A reference row whose VIP check kept vip "" (B14) although the pool has a listener:
    # the FIP copy takes the listener's port instead of "".
    driver.fip_disassociate(demo.LB, "203.0.113.10")
    reader = driver.backend.reader()
    state = parse(demo.LB, lb_rowset(reader, demo.LB))
    (row,) = state.rows
    (hc,) = row.health_checks
    broken = state.replace(row, attrs.evolve(row, health_checks=(attrs.evolve(hc, vip=""),)))
    ctx = rq.Context(Topology(reader, demo.SUBNETS))
    out = rq.fip_associate(ctx, broken, "203.0.113.10", "vip", ["172.24.4.9"])
    assert out.state is not None
    vips = {h.external_ids["octavia:vip"]: h.vip for h in out.state.rows[0].health_checks}
    assert vips["203.0.113.10"] == "203.0.113.10:64015"


def test_b47_cascade_delete_is_one_transaction(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener())
    driver.pool_create(_pool())
    members = [
        _member(member_id=f"adf55e70-3d50-4e62-99fd-{n:012x}", address=f"10.10.10.{100 + n}")
        for n in range(50)
    ]
    driver.member_batch_update(demo.POOL, members)
    driver.hm_create(_hm())
    before = driver.backend.transaction_count()
    statuses = driver.lb_delete(
        {
            "loadbalancer_id": demo.LB,
            "vip_address": "172.24.4.9",
            "listeners": [_listener()],
            "pools": [{**_pool(), "members": members, "healthmonitor": _hm()}],
        },
        cascade=True,
    )
    assert driver.backend.transaction_count() == before + 1
    assert lb_rowset(driver.backend.reader(), demo.LB).lbs == {}
    assert driver.backend.reader().rows("Load_Balancer_Health_Check") == {}
    assert len(statuses[0]["members"]) == 50
    assert statuses[0]["healthmonitors"] == [
        {"id": demo.HM, "provisioning_status": "DELETED", "operating_status": "NO_MONITOR"}
    ]


def test_b48_listener_delete_retargets_health_checks(driver: OvnLbDriver) -> None:
    _tcp_lb_with_member(driver)
    driver.listener_create(
        _listener(listener_id=LISTENER2, protocol_port=8080, default_pool_id=demo.POOL)
    )
    driver.hm_create(_hm())
    assert _hcs(driver) == {"172.24.4.9": "172.24.4.9:64015"}
    # The pool's first listener goes: the check follows the one left (spec 4.2 vip_port).
    driver.listener_delete(_listener())
    assert _hcs(driver) == {"172.24.4.9": "172.24.4.9:8080"}
    assert set(_rows(driver)["tcp"].vips) == {"172.24.4.9:8080"}
    # No listener left: vip "" (nothing probed), as hm_create writes for such a pool.
    driver.listener_delete(_listener(listener_id=LISTENER2, protocol_port=8080))
    assert _hcs(driver) == {"172.24.4.9": ""}
    assert _rows(driver)["tcp"].ip_port_mappings == {"10.10.10.10": HM_MAPPING}
    driver.listener_create(_listener(default_pool_id=demo.POOL))
    assert _hcs(driver) == {"172.24.4.9": "172.24.4.9:64015"}
    # The same when listener_update takes the default pool away.
    driver.listener_update(_listener(default_pool_id=demo.POOL), {"default_pool_id": None})
    assert _hcs(driver) == {"172.24.4.9": ""}


def test_b50_member_create_on_a_missing_pool_row_is_an_error(driver: OvnLbDriver) -> None:
    driver.listener_create(_listener())
    driver.view.pools[POOL2] = {"pool_id": POOL2, "loadbalancer_id": demo.LB}
    before = driver.backend.transaction_count()
    with pytest.raises(NotFoundError) as info:
        driver.member_create(_member(pool_id=POOL2))
    assert info.value.resource_id == POOL2
    assert driver.backend.transaction_count() == before


# -- sync (docs/sync.md): B12b, B21, B23, B25, B27, B29b ----------------------------------------


def _desired(
    members: list[dict[str, Any]], hm: dict[str, Any] | None = None, fip: str | None = None
) -> Any:
    data = {
        "loadbalancer_id": demo.LB,
        "vip_address": "172.24.4.9",
        "vip_port_id": demo.VIP_PORT,
        "vip_network_id": demo.NET,
        "vip_subnet_id": demo.VIP_SUBNET,
        "admin_state_up": True,
        "listeners": [_listener(default_pool_id=demo.POOL)],
        "pools": [{**_pool(), "members": members, "healthmonitor": hm}],
    }
    return core.DesiredLb(data, fip)


def _synced(backend: MemoryBackend, lb: Any) -> LoadBalancerRow:
    report = run_sync(backend, [lb], demo.SUBNETS)
    assert report.ok, [r.error for r in report.results]
    (row,) = lb_rowset(backend.reader(), demo.LB).lbs.values()
    return row


def _topology_backend() -> MemoryBackend:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    return backend


def _hc_pairs(backend: MemoryBackend) -> dict[str, tuple[str, str]]:
    hcs = lb_rowset(backend.reader(), demo.LB).health_checks
    return {h.external_ids["octavia:vip"]: (h.vip, u) for u, h in hcs.items()}


def test_b12b_sync_keeps_vip_and_fip_checks_apart() -> None:
    backend = _topology_backend()
    _synced(backend, _desired([_member()], _hm()))
    ((vip_check, vip_uuid),) = _hc_pairs(backend).values()
    assert vip_check == "172.24.4.9:64015"
    _synced(backend, _desired([_member()], _hm(), fip="203.0.113.10"))
    pairs = _hc_pairs(backend)
    assert {k: v[0] for k, v in pairs.items()} == {
        "172.24.4.9": "172.24.4.9:64015",
        "203.0.113.10": "203.0.113.10:64015",
    }
    assert pairs["172.24.4.9"][1] == vip_uuid
    # The FIP goes: the VIP's own check stays (B12b destroyed it).
    _synced(backend, _desired([_member()], _hm()))
    assert _hc_pairs(backend) == {"172.24.4.9": ("172.24.4.9:64015", vip_uuid)}


def test_b21_b23_sync_removes_members_only_in_ovn_and_stale_vips() -> None:
    backend = _topology_backend()
    second = _member(member_id=MEMBER2, address=VM2_ADDR)
    row = _synced(backend, _desired([_member(), second]))
    assert row.external_ids["ls_refs"] == (
        '{"neutron-ee97665d-69d0-4995-a275-27855359956a": 1, '
        '"neutron-5b2c8d7e-1f3a-4c9b-8e6d-2a7f0c1b9d34": 2}'
    )
    # MEMBER2 exists only in OVN now: its entry, status and ls_refs count go (B21).
    row = _synced(backend, _desired([_member()]))
    assert row.external_ids[f"pool_{demo.POOL}"] == (
        f"member_{demo.MEMBER}_10.10.10.10:63015_{demo.MEMBER_SUBNET}"
    )
    assert row.external_ids["neutron:member_status"] == f'{{"{demo.MEMBER}": "NO_MONITOR"}}'
    assert row.external_ids["ls_refs"] == (
        '{"neutron-ee97665d-69d0-4995-a275-27855359956a": 1, '
        '"neutron-5b2c8d7e-1f3a-4c9b-8e6d-2a7f0c1b9d34": 1}'
    )
    assert row.vips == {"172.24.4.9:64015": "10.10.10.10:63015"}
    # No admin-up member left, then no member at all: vips follow (B23).
    row = _synced(backend, _desired([_member(admin_state_up=False)]))
    assert row.vips == {}
    row = _synced(backend, _desired([]))
    assert row.vips == {}
    assert row.external_ids[f"pool_{demo.POOL}"] == ""


def test_b25_sync_leaves_one_listener_key() -> None:

    backend = _topology_backend()
    row = _synced(backend, _desired([_member()]))
    key = f"listener_{demo.LISTENER}"
    value = row.external_ids[key]
    assert value == f"64015:pool_{demo.POOL}"
    backend.commit(
        Plan(
            lb_updates=(
                LbUpdate(row.uuid, protocol="tcp", external_ids=MapDelta({f"{key}:D": value})),
            )
        )
    )
    row = _synced(backend, _desired([_member()]))
    assert [k for k in row.external_ids if k.startswith("listener_")] == [key]


def test_b27_b29b_sync_create_with_a_disabled_member() -> None:
    backend = _topology_backend()
    second = _member(member_id=MEMBER2, address=VM2_ADDR, admin_state_up=False)
    third = _member(member_id=MEMBER3, address="10.10.10.77")
    row = _synced(backend, _desired([_member(), second, third]))
    # Every member's status is recorded (B27), the disabled one OFFLINE and out of vips (B29b).
    assert json.loads(row.external_ids["neutron:member_status"]) == {
        demo.MEMBER: "NO_MONITOR",
        MEMBER2: "OFFLINE",
        MEMBER3: "NO_MONITOR",
    }
    assert row.vips == {"172.24.4.9:64015": "10.10.10.10:63015,10.10.10.77:63015"}


USER_VIP_PORT = "f98e52d0-5965-4b22-8a17-a374f4399193"
USER_FIP_NAT = "nat-8ef31e8f-a8e7-5b28-a0d1-422438e8bd52"
LB_USER_PORT = "c4e7c431-912b-496c-a247-d52875d44ac7"


def test_b32_fip_on_a_user_supplied_vip_port() -> None:
    backend = _topology_backend()
    d = OvnLbDriver(backend, demo.SUBNETS)
    # A VIP port the user made: its name is not "ovn-lb-vip-<lb>".
    lsp = {
        "_name": USER_VIP_PORT,
        "name": USER_VIP_PORT,
        "addresses": ["fa:16:3e:00:00:20 172.24.4.20"],
        "external_ids": {"neutron:port_name": "my-vip"},
    }
    backend.apply_raw(
        [
            {"op": "insert", "table": "Logical_Switch_Port", "row": lsp},
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": f"neutron-{demo.NET}",
                "columns": {"ports": [demo.RI_VIP, demo.VIP_PORT, USER_VIP_PORT]},
            },
        ]
    )
    d.lb_create(
        {
            "loadbalancer_id": LB_USER_PORT,
            "vip_address": "172.24.4.20",
            "vip_port_id": USER_VIP_PORT,
            "vip_network_id": demo.NET,
            "vip_subnet_id": demo.VIP_SUBNET,
        }
    )
    d.listener_create(_listener(loadbalancer_id=LB_USER_PORT))
    d.pool_create(_pool(loadbalancer_id=LB_USER_PORT))
    d.member_create(_member())
    nat = {
        "_name": USER_FIP_NAT,
        "type": "dnat_and_snat",
        "external_ip": "203.0.113.20",
        "logical_ip": "172.24.4.20",
        "logical_port": USER_VIP_PORT,
        "external_ids": {"neutron:fip_port_id": USER_VIP_PORT},
    }
    before = {u: dict(r) for u, r in backend.reader().rows("NAT").items()}
    backend.apply_raw(
        [
            {"op": "insert", "table": "NAT", "row": nat},
            {
                "op": "update",
                "table": "Logical_Router",
                "name": f"neutron-{demo.ROUTER}",
                "columns": {"nat": [USER_FIP_NAT]},
            },
        ]
    )
    reader = backend.reader()
    changes = [
        ev.RowChange("NAT", u, before.get(u), dict(r))
        for u, r in reader.rows("NAT").items()
        if before.get(u) != dict(r)
    ]
    actions = ev.dedupe([a for c in changes for a in ev.nb_actions(reader, c)])
    assert [a.lb_id for a in actions] == [LB_USER_PORT]
    for a in actions:
        ap = ev.plan_action(backend.reader(), a, demo.SUBNETS, None)
        backend.commit(ap.plan, basis=ap.actual)
    (row,) = lb_rowset(backend.reader(), LB_USER_PORT).lbs.values()
    # Spec 6.2: neutron:vip_fip and the FIP's vips entry.
    assert row.external_ids["neutron:vip_fip"] == "203.0.113.20"
    assert row.vips == {
        "172.24.4.20:64015": "10.10.10.10:63015",
        "203.0.113.20:64015": "10.10.10.10:63015",
    }
