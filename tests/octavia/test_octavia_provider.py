"""The provider driver on real OVN: requests, ports, statuses, rejections, faults.

Octavia's side is a recorder (statuses, commit visibility); Neutron is the
local Neutron that writes LSPs into NB. End to end with the real Octavia API
is in ``test_octavia_e2e.py``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions as lib_exc
from provider_cloud import PROJECT, Cloud, make_cloud

from ovnlb_octavia import runtime as rt_mod
from ovnlb_octavia.neutron import HM_DEVICE_OWNER, VIP_DEVICE_OWNER

pytestmark = pytest.mark.ovn

LB = "94e7c431-912b-496c-a247-d52875d44ac7"
LISTENER = "21e77cde-854f-4c3e-bd8c-9536ae0443bc"
POOL = "898be8a2-5185-4f3b-8658-a56457f595a9"
MEMBER = "adf55e70-3d50-4e62-99fd-dd77eababb1c"
HM = "6d2f1e0a-7b3c-4d5e-9f8a-1b2c3d4e5f60"


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    yield from make_cloud(tmp_path)


def _set(value: Any) -> list[Any]:
    """ovn-nbctl prints a one-element set as its element."""
    return value if isinstance(value, list) else [value]


def _create_lb(c: Cloud, lb_id: str = LB, address: str = "172.24.4.9") -> dict[str, Any]:
    vip, adds = c.provider.create_vip_port(
        lb_id,
        PROJECT,
        {"vip_network_id": c.net, "vip_subnet_id": c.vip_subnet, "vip_address": address},
        [],
    )
    assert adds == []
    c.provider.loadbalancer_create(
        dm.LoadBalancer(
            loadbalancer_id=lb_id,
            project_id=PROJECT,
            vip_address=vip["vip_address"],
            vip_port_id=vip["vip_port_id"],
            vip_network_id=c.net,
            vip_subnet_id=c.vip_subnet,
            admin_state_up=True,
        )
    )
    c.octavia.commit("loadbalancer", lb_id)
    c.idle()
    return vip


def _listener(lb_id: str = LB, protocol: str = "TCP", port: int = 64015, **kw: Any) -> Any:
    return dm.Listener(
        listener_id=kw.pop("listener_id", LISTENER),
        loadbalancer_id=lb_id,
        protocol=protocol,
        protocol_port=port,
        admin_state_up=True,
        **kw,
    )


def _pool(lb_id: str = LB, **kw: Any) -> Any:
    args = {
        "pool_id": POOL,
        "loadbalancer_id": lb_id,
        "listener_id": LISTENER,
        "protocol": "TCP",
        "lb_algorithm": "SOURCE_IP_PORT",
        "admin_state_up": True,
        **kw,
    }
    return dm.Pool(**args)


def _member(c: Cloud, **kw: Any) -> Any:
    args = {
        "member_id": MEMBER,
        "pool_id": POOL,
        "address": "10.10.10.10",
        "protocol_port": 63015,
        "subnet_id": c.member_subnet,
        "admin_state_up": True,
        **kw,
    }
    return dm.Member(**args)


def _hm(**kw: Any) -> Any:
    args = {
        "healthmonitor_id": HM,
        "pool_id": POOL,
        "type": "TCP",
        "delay": 10,
        "timeout": 5,
        "max_retries": 3,
        "max_retries_down": 3,
        "admin_state_up": True,
        **kw,
    }
    return dm.HealthMonitor(**args)


def _walk_to_member(c: Cloud) -> None:
    _create_lb(c)
    # Octavia lets the next request in only once the LB left PENDING_UPDATE.
    c.provider.listener_create(_listener())
    c.octavia.commit("listener", LISTENER, loadbalancer_id=LB)
    c.idle()
    c.provider.pool_create(_pool())
    c.octavia.commit("pool", POOL, loadbalancer_id=LB, listener_id=LISTENER)
    c.idle()
    c.provider.member_create(_member(c))
    c.octavia.commit("member", MEMBER)
    c.idle()


def test_seed_walkthrough_rows_ports_and_statuses(cloud: Cloud) -> None:
    c = cloud
    vip = _create_lb(c)
    # The VIP port, as the reference names and owns it; ML2/OVN wrote its LSP.
    port = c.neutron.get_port(vip["vip_port_id"])
    assert port is not None
    assert port["name"] == f"ovn-lb-vip-{LB}"
    assert port["device_owner"] == VIP_DEVICE_OWNER
    assert port["device_id"] == f"lb-{LB}"
    assert port["fixed_ips"] == [{"subnet_id": c.vip_subnet, "ip_address": "172.24.4.9"}]
    assert vip["vip_address"] == "172.24.4.9"
    assert c.octavia.statuses("loadbalancers")[LB] == {
        "id": LB,
        "provisioning_status": "ACTIVE",
        "operating_status": "ONLINE",
    }
    (row,) = c.lb_rows(LB)
    assert row["protocol"] == []
    assert row["external_ids"]["neutron:vip"] == "172.24.4.9"
    assert row["external_ids"]["neutron:vip_port_id"] == vip["vip_port_id"]
    assert row["external_ids"]["enabled"] == "True"
    assert row["external_ids"]["lr_ref"] == f"neutron-{c.router}"

    _walk_rest = [
        (c.provider.listener_create, _listener(), ("listener", LISTENER)),
        (c.provider.pool_create, _pool(), ("pool", POOL)),
        (c.provider.member_create, _member(c), ("member", MEMBER)),
    ]
    for call, obj, (kind, oid) in _walk_rest:
        call(obj)
        c.octavia.commit(kind, oid, loadbalancer_id=LB, listener_id=LISTENER)
        c.idle()
    (row,) = c.lb_rows(LB)
    assert row["protocol"] == "tcp"
    assert row["vips"] == {"172.24.4.9:64015": "10.10.10.10:63015"}
    ext = row["external_ids"]
    assert ext[f"listener_{LISTENER}"] == f"64015:pool_{POOL}"
    assert ext[f"pool_{POOL}"] == f"member_{MEMBER}_10.10.10.10:63015_{c.member_subnet}"
    assert c.octavia.statuses("members")[MEMBER]["provisioning_status"] == "ACTIVE"
    assert c.octavia.statuses("pools")[POOL]["provisioning_status"] == "ACTIVE"
    assert c.octavia.statuses("listeners")[LISTENER]["provisioning_status"] == "ACTIVE"

    c.provider.health_monitor_create(_hm())
    c.octavia.commit("healthmonitor", HM)
    c.idle()
    # The health-check source port of the member subnet, created as the reference does.
    (hm_port,) = c.neutron.list_ports(name=f"ovn-lb-hm-{c.member_subnet}")
    assert hm_port["device_owner"] == HM_DEVICE_OWNER
    assert hm_port["device_id"] == f"ovn-lb-hm-{c.member_subnet}"
    assert hm_port["port_security_enabled"] is False
    lsp = c.lsp(str(hm_port["id"]))
    assert lsp is not None and lsp["type"] == "localport"
    hm_ip = hm_port["fixed_ips"][0]["ip_address"]
    (row,) = c.lb_rows(LB)
    assert row["ip_port_mappings"] == {"10.10.10.10": f"{c.vm_port}:{hm_ip}"}
    (hc,) = c.table("Load_Balancer_Health_Check")
    assert hc["vip"] == "172.24.4.9:64015"
    assert hc["options"] == {
        "interval": "10",
        "timeout": "5",
        "success_count": "3",
        "failure_count": "3",
    }
    assert hc["external_ids"] == {
        "octavia:healthmonitor": HM,
        "octavia:pool_id": POOL,
        "octavia:vip": "172.24.4.9",
    }
    assert _set(row["health_check"]) == [hc["_uuid"]]
    assert c.octavia.statuses("healthmonitors")[HM]["provisioning_status"] == "ACTIVE"

    # Member disabled: OFFLINE, out of vips.
    c.provider.member_update(_member(c), dm.Member(member_id=MEMBER, admin_state_up=False))
    c.idle()
    (row,) = c.lb_rows(LB)
    assert row["vips"] == {}
    assert '"OFFLINE"' in row["external_ids"]["neutron:member_status"]
    assert c.octavia.statuses("members")[MEMBER]["operating_status"] == "OFFLINE"

    # Health monitor deleted: its source port goes once no mapping uses it.
    c.provider.health_monitor_delete(_hm())
    c.idle()
    assert c.neutron.list_ports(name=f"ovn-lb-hm-{c.member_subnet}") == []
    assert c.table("Load_Balancer_Health_Check") == []

    # Cascade delete: rows, and the VIP port the provider created.
    c.provider.loadbalancer_delete(dm.LoadBalancer(loadbalancer_id=LB), cascade=True)
    c.idle()
    assert c.lb_rows(LB) == []
    assert c.neutron.get_port(vip["vip_port_id"]) is None
    assert c.octavia.statuses("loadbalancers")[LB]["provisioning_status"] == "DELETED"
    assert c.runtime.failed_pushes == 0


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda c: ("listener_create", _listener(protocol="HTTP")), "HTTP"),
        (lambda c: ("pool_create", _pool(lb_algorithm="ROUND_ROBIN")), "ROUND_ROBIN"),
        (lambda c: ("health_monitor_create", _hm(type="SCTP")), "SCTP"),
        (
            lambda c: ("listener_create", _listener(allowed_cidrs=["10.0.0.0/8"])),
            "allowed_cidrs",
        ),
        (
            lambda c: (
                "member_create",
                _member(c, member_id="0b6f0c8e-2b0e-4b0a-9d6e-0a1b2c3d4e5f", address="2001:db8::5"),
            ),
            "IP",
        ),
    ],
)
def test_rejections_raise_unsupported_and_write_nothing(
    cloud: Cloud, make: Any, reason: str
) -> None:
    c = cloud
    _walk_to_member(c)
    before = c.lb_rows(LB), c.table("Load_Balancer_Health_Check")
    reports = len(c.octavia.reports)
    method, obj = make(c)
    with pytest.raises(lib_exc.UnsupportedOptionError) as info:
        getattr(c.provider, method)(obj)
    assert reason in info.value.user_fault_string
    c.idle()
    assert (c.lb_rows(LB), c.table("Load_Balancer_Health_Check")) == before
    # Octavia rolls the request back: no report for the refused object.
    assert len(c.octavia.reports) == reports


def test_failover_and_l7_refused(cloud: Cloud) -> None:
    with pytest.raises(lib_exc.UnsupportedOptionError):
        cloud.provider.loadbalancer_failover(LB)
    with pytest.raises(lib_exc.NotImplementedError):
        cloud.provider.l7policy_create(dm.L7Policy(l7policy_id=LB))
    with pytest.raises(lib_exc.NotImplementedError):
        cloud.provider.get_supported_flavor_metadata()


def test_taken_vip_address_is_a_conflict(cloud: Cloud) -> None:
    with pytest.raises(lib_exc.Conflict):
        cloud.provider.create_vip_port(
            LB,
            PROJECT,
            {"vip_network_id": cloud.member_net, "vip_address": "10.10.10.10"},
            [],
        )
    assert cloud.neutron.list_ports(device_id=f"lb-{LB}") == []


def test_additional_vip_failure_removes_the_ports_it_made(cloud: Cloud) -> None:
    with pytest.raises(lib_exc.Conflict):
        cloud.provider.create_vip_port(
            LB,
            PROJECT,
            {"vip_network_id": cloud.net, "vip_subnet_id": cloud.vip_subnet},
            [{"subnet_id": cloud.member_subnet, "ip_address": "10.10.10.10"}],
        )
    assert cloud.neutron.list_ports(device_id=f"lb-{LB}") == []


def test_create_waits_for_octavias_commit_and_skips_a_rolled_back_one(cloud: Cloud) -> None:
    c = cloud
    _create_lb(c)
    c.provider.listener_create(_listener())
    time.sleep(0.5)
    # Not committed yet: nothing in NB.
    (row,) = c.lb_rows(LB)
    assert f"listener_{LISTENER}" not in row["external_ids"]
    c.octavia.commit("listener", LISTENER)
    c.idle()
    (row,) = c.lb_rows(LB)
    assert row["external_ids"][f"listener_{LISTENER}"] == "64015:"
    # A create Octavia never commits (its transaction rolled back) is not applied.
    other = "5f0c3a9e-6d1b-4c2a-8e7f-9a0b1c2d3e4f"
    c.provider.listener_create(_listener(listener_id=other, port=64016))
    c.idle()
    (row,) = c.lb_rows(LB)
    assert f"listener_{other}" not in row["external_ids"]
    assert other not in c.octavia.statuses("listeners")


def test_status_push_retried_until_octavia_accepts(tmp_path: Path) -> None:
    for c in make_cloud(tmp_path, recorder={"fail_first": 3}):
        _create_lb(c)
        assert c.octavia.attempts == 4
        assert c.octavia.statuses("loadbalancers")[LB]["provisioning_status"] == "ACTIVE"


def test_nb_down_during_a_request_reports_error_and_writes_nothing(tmp_path: Path) -> None:
    for c in make_cloud(tmp_path, nb_timeout=2.0):
        _walk_to_member(c)
        c.sandbox.kill_nb()
        c.provider.listener_create(
            _listener(listener_id="5f0c3a9e-6d1b-4c2a-8e7f-9a0b1c2d3e4f", protocol="UDP", port=53)
        )
        c.octavia.commit("listener", "5f0c3a9e-6d1b-4c2a-8e7f-9a0b1c2d3e4f")
        c.idle()
        st = c.octavia.statuses("listeners")["5f0c3a9e-6d1b-4c2a-8e7f-9a0b1c2d3e4f"]
        assert st["provisioning_status"] == "ERROR"
        assert c.octavia.statuses("loadbalancers")[LB]["provisioning_status"] == "ACTIVE"
        c.sandbox.restart_nb()
        # No half rows: the UDP row was never written.
        deadline = time.monotonic() + 10
        while True:
            try:
                rows = c.lb_rows(LB)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert [r["protocol"] for r in rows] == ["tcp"]


def test_fully_populated_create_is_one_request(cloud: Cloud) -> None:
    c = cloud
    vip, _ = c.provider.create_vip_port(
        LB, PROJECT, {"vip_network_id": c.net, "vip_subnet_id": c.vip_subnet}, []
    )
    lb = dm.LoadBalancer(
        loadbalancer_id=LB,
        vip_address=vip["vip_address"],
        vip_port_id=vip["vip_port_id"],
        vip_network_id=c.net,
        vip_subnet_id=c.vip_subnet,
        admin_state_up=True,
        listeners=[_listener(default_pool_id=POOL)],
        pools=[
            dm.Pool(
                pool_id=POOL,
                loadbalancer_id=LB,
                listener_id=LISTENER,
                protocol="TCP",
                lb_algorithm="SOURCE_IP_PORT",
                admin_state_up=True,
                members=[_member(c)],
                healthmonitor=_hm(),
            )
        ],
    )
    c.provider.loadbalancer_create(lb)
    c.octavia.commit("loadbalancer", LB)
    c.idle()
    (row,) = c.lb_rows(LB)
    assert row["vips"] == {f"{vip['vip_address']}:64015": "10.10.10.10:63015"}
    assert len(_set(row["health_check"])) == 1
    assert set(row["ip_port_mappings"]) == {"10.10.10.10"}
    (report,) = c.octavia.reports
    for kind, oid in (
        ("loadbalancers", LB),
        ("listeners", LISTENER),
        ("pools", POOL),
        ("members", MEMBER),
        ("healthmonitors", HM),
    ):
        assert [e["provisioning_status"] for e in report[kind] if e["id"] == oid] == ["ACTIVE"]


def test_member_batch_update_of_100(cloud: Cloud) -> None:
    c = cloud
    _walk_to_member(c)
    members = [
        _member(
            c,
            member_id=f"00000000-0000-4000-8000-{n:012d}",
            address=f"10.10.10.{100 + n}",
            protocol_port=8080,
        )
        for n in range(100)
    ]
    c.provider.member_batch_update(POOL, members)
    for m in members:
        c.octavia.commit("member", m.member_id)
    c.idle()
    (row,) = c.lb_rows(LB)
    backends = row["vips"]["172.24.4.9:64015"].split(",")
    assert backends == [f"10.10.10.{100 + n}:8080" for n in range(100)]
    assert MEMBER not in row["external_ids"][f"pool_{POOL}"]
    st = c.octavia.statuses("members")
    assert st[MEMBER]["provisioning_status"] == "DELETED"
    assert all(st[m.member_id]["provisioning_status"] == "ACTIVE" for m in members)
    # A later create reports its own member, not the 100 others (their statuses did not change).
    extra = _member(c, member_id="00000000-0000-4000-8000-999999999999", address="10.10.10.99")
    c.provider.member_create(extra)
    c.octavia.commit("member", extra.member_id)
    c.idle()
    assert [e["id"] for e in c.octavia.reports[-1]["members"]] == [extra.member_id]
    assert c.octavia.reports[-1]["pools"][0]["provisioning_status"] == "ACTIVE"


# Spec 6.4: the member FIP update runs when the row has neutron:vip_fip or
# neutron:additional_vip_fips (the provider once read a misspelt "additional_vip_fip").
@pytest.mark.parametrize("key", ["neutron:vip_fip", "neutron:additional_vip_fips"])
def test_member_delete_touches_its_floating_ip_when_the_vip_has_one(cloud: Cloud, key: str) -> None:
    c = cloud
    _walk_to_member(c)
    vip_port = c.lb_rows(LB)[0]["external_ids"]["neutron:vip_port_id"]
    c.neutron.add_floating_ip("192.0.2.10", vip_port, c.router)
    member_fip = c.neutron.add_floating_ip("192.0.2.11", c.vm_port, c.router)
    # The VIP FIP as the agent would record it.
    c.sandbox.nbctl(
        "set",
        "Load_Balancer",
        c.lb_rows(LB)[0]["_uuid"],
        f'external_ids:"{key}"="192.0.2.10"',
    )
    c.provider.member_delete(_member(c))
    c.idle()
    assert ("update_fip", member_fip) in c.neutron.calls


def test_one_runtime_per_process_shared_by_threads(cloud: Cloud) -> None:
    made: list[Any] = []
    rt_mod.set_process_runtime(None)
    try:

        def build() -> rt_mod.Runtime:
            made.append(1)
            return cloud.runtime

        got: list[Any] = []
        threads = [
            threading.Thread(target=lambda: got.append(rt_mod.process_runtime(build)))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(made) == 1
        assert all(r is cloud.runtime for r in got)
        pid = os.fork()
        if pid == 0:  # the child gets its own runtime (threads do not survive fork)
            try:
                child = rt_mod.process_runtime(lambda: object())  # type: ignore[arg-type,return-value]
                os._exit(0 if child is not cloud.runtime else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    finally:
        rt_mod.set_process_runtime(None)


def test_member_on_a_new_subnet_of_a_monitored_pool_gets_its_hm_port(cloud: Cloud) -> None:
    c = cloud
    _walk_to_member(c)
    c.provider.health_monitor_create(_hm())
    c.octavia.commit("healthmonitor", HM)
    c.idle()
    other_net = c.neutron.create_network("other")
    other_subnet = c.neutron.create_subnet(other_net, "10.20.20.0/24")
    c.neutron.add_router_interface(c.router, other_subnet)
    vm2 = c.neutron.create_port(
        name="vm2",
        network_id=other_net,
        fixed_ips=[{"subnet_id": other_subnet, "ip_address": "10.20.20.20"}],
        device_owner="compute:nova",
    )
    second = "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
    c.provider.member_create(
        _member(c, member_id=second, address="10.20.20.20", subnet_id=other_subnet)
    )
    c.octavia.commit("member", second)
    c.idle()
    (hm_port,) = c.neutron.list_ports(name=f"ovn-lb-hm-{other_subnet}")
    hm_ip = hm_port["fixed_ips"][0]["ip_address"]
    (row,) = c.lb_rows(LB)
    assert row["ip_port_mappings"]["10.20.20.20"] == f"{vm2['id']}:{hm_ip}"
