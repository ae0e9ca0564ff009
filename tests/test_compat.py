"""Each deviation from the reference driver listed in docs/compat.md, pinned.

The scenarios run on the walkthrough's topology (reference-behavior.md 11.1)
through the driver and the in-memory backend; expected values are the
spec's formats with the corrected behaviour.
"""

from __future__ import annotations

from typing import Any

import pytest

from ovnlb_backends import demo
from ovnlb_backends.driver import OvnLbDriver
from ovnlb_backends.memory import MemoryBackend
from ovnlb_core.errors import UnsupportedOptionError
from ovnlb_core.plan import LoadBalancerRow
from ovnlb_core.rows import lb_rowset
from ovnlb_core.topology import Subnet

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
