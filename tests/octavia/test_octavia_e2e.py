"""End to end: the real Octavia API and driver agent with ``--provider ovnlb`` on real OVN.

``octavia-api`` and ``octavia-driver-agent`` (PyPI ``octavia`` 19, from
``.venv-octavia``) run on 127.0.0.1 and unix sockets with sqlite, noauth and
the noop network/compute/amphora drivers; NB + SB + ``ovn-northd`` come from
the sandbox; Neutron/Keystone is the local Neutron that writes LSPs into NB
as ML2/OVN does. Everything is driven through openstacksdk as an operator
would, and after each step the statuses Octavia's API reports and the NB
rows are checked against the row contract (reference-behavior.md).

Skipped only when ``.venv-octavia`` is missing and neither ``CI=true`` nor
``OVNLB_REQUIRE_OCTAVIA=1`` is set (scripts/test.sh sets it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from local_neutron import PROJECT, LocalNeutron, NeutronCloud
from octavia_services import OctaviaServices, OctaviaUnavailable, octavia_venv
from provider_cloud import _rows, bind_port

from conftest import start_sandbox
from ovnlb_backends.sandbox import OvnSandbox

pytestmark = pytest.mark.ovn


def _required() -> bool:
    return (
        os.environ.get("CI", "").lower() == "true" or os.environ.get("OVNLB_REQUIRE_OCTAVIA") == "1"
    )


class Stack:
    """OVN sandbox, local Neutron over HTTP, Octavia API + driver agent, an SDK connection."""

    def __init__(self, workdir: Path, sandbox: OvnSandbox, **services: Any) -> None:
        self.sandbox = sandbox
        self.neutron = LocalNeutron(sandbox.nbctl)
        n = self.neutron
        self.public = n.create_network("public")
        self.public_subnet = n.create_subnet(self.public, "172.24.4.0/24")
        self.private = n.create_network("private")
        self.private_subnet = n.create_subnet(self.private, "10.10.10.0/24")
        self.router = "3d2a873b-b5b4-4d14-ac24-47a835fd47b2"
        n.add_router_interface(self.router, self.public_subnet)
        n.add_router_interface(self.router, self.private_subnet)
        self.vm_port = str(
            n.create_port(
                name="vm1",
                network_id=self.private,
                fixed_ips=[{"subnet_id": self.private_subnet, "ip_address": "10.10.10.10"}],
                device_owner="compute:nova",
            )["id"]
        )
        self.cloud = NeutronCloud(n).__enter__()
        self.services = OctaviaServices(
            workdir,
            nb_remote=sandbox.nb_remote,
            sb_remote=sandbox.sb_remote,
            auth_url=self.cloud.auth_url,
            **services,
        )
        self.services.start_agent()
        self.services.start_api()
        self.conn = self.connect(0)

    def connect(self, index: int) -> Any:
        url = self.services.api_url(index)
        return _SqliteRetry(
            openstack.connection.Connection(
                auth_type="none",
                auth={"endpoint": url},
                load_balancer_endpoint_override=url,
            ).load_balancer
        )

    def close(self) -> None:
        self.services.stop()
        self.cloud.__exit__(None, None, None)

    # -- waiting -----------------------------------------------------------------------

    def wait(self, what: Callable[[], bool], timeout: float = 60.0, message: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting: {message}\n--- api log ---\n"
                    + self.services.log("api-0.log")
                    + "\n--- agent log ---\n"
                    + self.services.log("driver-agent.log")
                )
            time.sleep(0.2)

    def lb(self, lb_id: str) -> Any:
        return self.conn.get_load_balancer(lb_id)

    def settled(self, lb_id: str) -> Any:
        """Wait until the LB is no longer PENDING_*; its record."""
        found: list[Any] = []

        def done() -> bool:
            lb = self.conn.find_load_balancer(lb_id, ignore_missing=True)
            found[:] = [lb]
            return lb is None or not str(lb.provisioning_status).startswith("PENDING")

        self.wait(done, message=f"load balancer {lb_id} leaves PENDING")
        return found[0]

    # -- NB ------------------------------------------------------------------------------

    def rows(self, lb_id: str) -> list[dict[str, Any]]:
        return _rows(
            self.sandbox.nbctl(
                "--format=json", "--data=json", "find", "Load_Balancer", f"name={lb_id}"
            )
        )

    def row(self, lb_id: str, protocol: str) -> dict[str, Any]:
        (found,) = [r for r in self.rows(lb_id) if r["protocol"] == protocol]
        return found

    def hcs(self) -> list[dict[str, Any]]:
        return _rows(
            self.sandbox.nbctl("--format=json", "--data=json", "list", "Load_Balancer_Health_Check")
        )


class _SqliteRetry:
    """The SDK proxy, retrying a call that Octavia answered 500 "database is locked".

    With sqlite, two writers that both read first (the API and the driver agent
    applying a status report) deadlock on the lock upgrade and one gets
    SQLITE_BUSY at once; Octavia rolls that request back, so the operator's
    retry is safe. Production Octavia runs on MySQL/PostgreSQL, which queue.
    """

    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._proxy, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(20):
                try:
                    return target(*args, **kwargs)
                except openstack.exceptions.HttpException as e:
                    if "database is locked" not in str(e) or attempt == 19:
                        raise
                    time.sleep(0.2)
            raise AssertionError("unreachable")

        return call


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        octavia_venv()
    except OctaviaUnavailable as e:
        if _required():
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))
    workdir = tmp_path_factory.mktemp("octavia")
    sandbox = start_sandbox(workdir / "ovn", with_northd=True)
    s: Stack | None = None
    try:
        s = Stack(workdir, sandbox, api_count=2)
        yield s
    finally:
        if s is not None:
            s.close()
        sandbox.stop()


def _status(obj: Any) -> tuple[str, str]:
    return str(obj.provisioning_status), str(obj.operating_status)


def _member_status(row: dict[str, Any]) -> dict[str, str]:
    return dict(json.loads(row["external_ids"].get("neutron:member_status", "{}")))


def test_seed_walkthrough_through_the_api(stack: Stack) -> None:
    s, c = stack, stack.conn
    lb = c.create_load_balancer(
        name="lb1",
        vip_network_id=s.public,
        vip_subnet_id=s.public_subnet,
        vip_address="172.24.4.9",
        project_id=PROJECT,
        provider="ovnlb",
    )
    lb = s.settled(lb.id)
    assert _status(lb) == ("ACTIVE", "ONLINE")
    # create_vip_port made the VIP port in Neutron as the reference names it.
    (vip_port,) = s.neutron.list_ports(name=f"ovn-lb-vip-{lb.id}")
    assert lb.vip_port_id == vip_port["id"]
    assert vip_port["device_owner"] == "ovn-lb:vip"
    assert vip_port["device_id"] == f"lb-{lb.id}"
    (row,) = s.rows(lb.id)
    assert row["external_ids"]["neutron:vip"] == "172.24.4.9"
    assert row["external_ids"]["neutron:vip_port_id"] == vip_port["id"]
    assert row["external_ids"]["lr_ref"] == f"neutron-{s.router}"

    li = c.create_listener(
        name="l1", loadbalancer_id=lb.id, protocol="TCP", protocol_port=64015, project_id=PROJECT
    )
    s.settled(lb.id)
    assert _status(c.get_listener(li.id)) == ("ACTIVE", "ONLINE")
    assert s.row(lb.id, "tcp")["external_ids"][f"listener_{li.id}"] == "64015:"

    pool = c.create_pool(
        name="p1",
        listener_id=li.id,
        protocol="TCP",
        lb_algorithm="SOURCE_IP_PORT",
        project_id=PROJECT,
    )
    s.settled(lb.id)
    assert c.get_pool(pool.id).provisioning_status == "ACTIVE"
    ext = s.row(lb.id, "tcp")["external_ids"]
    assert ext[f"listener_{li.id}"] == f"64015:pool_{pool.id}"
    assert ext[f"pool_{pool.id}"] == ""

    m = c.create_member(
        pool.id,
        address="10.10.10.10",
        protocol_port=63015,
        subnet_id=s.private_subnet,
        project_id=PROJECT,
    )
    s.settled(lb.id)
    assert _status(c.get_member(m.id, pool.id)) == ("ACTIVE", "NO_MONITOR")
    row = s.row(lb.id, "tcp")
    assert row["vips"] == {"172.24.4.9:64015": "10.10.10.10:63015"}
    assert (
        row["external_ids"][f"pool_{pool.id}"]
        == f"member_{m.id}_10.10.10.10:63015_{s.private_subnet}"
    )

    hm = c.create_health_monitor(
        pool_id=pool.id, type="TCP", delay=10, timeout=5, max_retries=3, max_retries_down=3
    )
    s.settled(lb.id)
    assert _status(c.get_health_monitor(hm.id)) == ("ACTIVE", "ONLINE")
    (hm_port,) = s.neutron.list_ports(name=f"ovn-lb-hm-{s.private_subnet}")
    assert hm_port["device_owner"] == "ovn-lb-hm:distributed"
    hm_ip = hm_port["fixed_ips"][0]["ip_address"]
    row = s.row(lb.id, "tcp")
    assert row["ip_port_mappings"] == {"10.10.10.10": f"{s.vm_port}:{hm_ip}"}
    (hc,) = [h for h in s.hcs() if h["external_ids"]["octavia:healthmonitor"] == hm.id]
    assert hc["vip"] == "172.24.4.9:64015"
    assert hc["options"] == {
        "interval": "10",
        "timeout": "5",
        "success_count": "3",
        "failure_count": "3",
    }
    assert hc["external_ids"]["octavia:pool_id"] == pool.id

    # SB Service_Monitor: northd made one for the member; a failing probe turns it ERROR.
    def monitor() -> list[dict[str, Any]]:
        return _rows(
            s.sandbox.sbctl(
                "--format=json", "--data=json", "find", "Service_Monitor", "ip=10.10.10.10"
            )
        )

    s.wait(lambda: len(monitor()) == 1, message="northd creates the Service_Monitor")
    (sm,) = monitor()
    s.sandbox.sbctl("set", "Service_Monitor", sm["_uuid"], "status=offline")
    s.wait(
        lambda: c.get_member(m.id, pool.id).operating_status == "ERROR",
        message="member ERROR through Service_Monitor",
    )
    assert _member_status(s.row(lb.id, "tcp")) == {m.id: "ERROR"}
    assert c.get_pool(pool.id).operating_status == "ERROR"
    assert c.get_load_balancer(lb.id).operating_status == "ERROR"

    # The probe succeeds again (the VM's port bound, as ovn-controller reports it; see
    # bind_port): the member, and with it the pool and the LB, are ONLINE again.
    bind_port(s.sandbox.sbctl, s.vm_port)
    s.sandbox.sbctl("set", "Service_Monitor", sm["_uuid"], "status=online")
    s.wait(
        lambda: c.get_member(m.id, pool.id).operating_status == "ONLINE",
        message="member ONLINE again through Service_Monitor",
    )
    assert _member_status(s.row(lb.id, "tcp")) == {m.id: "ONLINE"}
    assert _status(c.get_pool(pool.id)) == ("ACTIVE", "ONLINE")
    assert _status(c.get_load_balancer(lb.id)) == ("ACTIVE", "ONLINE")

    # Member disabled.
    c.update_member(m.id, pool.id, admin_state_up=False)
    s.settled(lb.id)
    assert _status(c.get_member(m.id, pool.id)) == ("ACTIVE", "OFFLINE")
    row = s.row(lb.id, "tcp")
    assert row["vips"] == {}
    assert _member_status(row) == {m.id: "OFFLINE"}

    # UDP and SCTP listeners: one row per protocol.
    for proto, port in (("UDP", 53), ("SCTP", 3868)):
        li2 = c.create_listener(
            loadbalancer_id=lb.id, protocol=proto, protocol_port=port, project_id=PROJECT
        )
        s.settled(lb.id)
        assert c.get_listener(li2.id).provisioning_status == "ACTIVE"
        assert s.row(lb.id, proto.lower())["external_ids"][f"listener_{li2.id}"] == f"{port}:"
    assert sorted(r["protocol"] for r in s.rows(lb.id)) == ["sctp", "tcp", "udp"]

    # 100 members in one batch update (the disabled one leaves).
    batch = [
        {"address": f"10.10.10.{100 + n}", "protocol_port": 8080, "subnet_id": s.private_subnet}
        for n in range(100)
    ]
    s.conn.put(
        f"/v2/lbaas/pools/{pool.id}/members",
        json={"members": batch},
    )
    s.settled(lb.id)
    members = list(c.members(pool.id))
    assert len(members) == 100, [
        (x.address, x.provisioning_status) for x in members if x.address == "10.10.10.10"
    ]
    assert {x.provisioning_status for x in members} == {"ACTIVE"}
    row = s.row(lb.id, "tcp")
    assert row["vips"]["172.24.4.9:64015"].split(",") == [
        f"10.10.10.{100 + n}:8080" for n in range(100)
    ]

    # Cascade delete: rows, health check, VIP port and the now unused HM port all go.
    c.delete_load_balancer(lb.id, cascade=True)

    def gone() -> bool:
        found = c.find_load_balancer(lb.id, ignore_missing=True)
        return found is None or found.provisioning_status == "DELETED"

    s.wait(gone, message="cascade delete")
    assert s.rows(lb.id) == []
    assert [h for h in s.hcs() if h["external_ids"]["octavia:healthmonitor"] == hm.id] == []
    assert s.neutron.list_ports(name=f"ovn-lb-vip-{lb.id}") == []
    assert s.neutron.list_ports(name=f"ovn-lb-hm-{s.private_subnet}") == []


def _lb_with_listener(s: Stack, name: str, port: int) -> tuple[Any, Any]:
    c = s.conn
    lb = c.create_load_balancer(
        name=name,
        vip_network_id=s.public,
        vip_subnet_id=s.public_subnet,
        project_id=PROJECT,
        provider="ovnlb",
    )
    s.settled(lb.id)
    li = c.create_listener(
        loadbalancer_id=lb.id, protocol="TCP", protocol_port=port, project_id=PROJECT
    )
    s.settled(lb.id)
    return c.get_load_balancer(lb.id), c.get_listener(li.id)


def _refused(call: Callable[[], Any]) -> openstack.exceptions.HttpException:
    with pytest.raises(openstack.exceptions.HttpException) as info:
        call()
    return info.value


def test_rejections_through_the_api(stack: Stack) -> None:
    s, c = stack, stack.conn
    lb, li = _lb_with_listener(s, "rejections", 80)
    pool = c.create_pool(
        listener_id=li.id, protocol="TCP", lb_algorithm="SOURCE_IP_PORT", project_id=PROJECT
    )
    s.settled(lb.id)
    rows_before = s.rows(lb.id)
    cases: list[tuple[str, Callable[[], Any], str]] = [
        (
            "HTTP listener",
            lambda: c.create_listener(
                loadbalancer_id=lb.id, protocol="HTTP", protocol_port=8080, project_id=PROJECT
            ),
            "HTTP",
        ),
        (
            "ROUND_ROBIN",
            lambda: c.create_pool(
                loadbalancer_id=lb.id,
                protocol="TCP",
                lb_algorithm="ROUND_ROBIN",
                project_id=PROJECT,
            ),
            "ROUND_ROBIN",
        ),
        (
            "SCTP health monitor",
            lambda: c.create_health_monitor(
                pool_id=pool.id, type="SCTP", delay=5, timeout=3, max_retries=3
            ),
            "SCTP",
        ),
        (
            "allowed_cidrs",
            lambda: c.create_listener(
                loadbalancer_id=lb.id,
                protocol="TCP",
                protocol_port=8081,
                allowed_cidrs=["10.0.0.0/8"],
                project_id=PROJECT,
            ),
            "allowed_cidrs",
        ),
        (
            "mixed address families",
            lambda: c.create_member(
                pool.id,
                address="2001:db8::5",
                protocol_port=80,
                subnet_id=s.private_subnet,
                project_id=PROJECT,
            ),
            "IP",
        ),
    ]
    for title, call, word in cases:
        err = _refused(call)
        assert err.status_code is not None and 400 <= err.status_code <= 501, title
        assert word in str(err), (title, str(err))
        # Nothing written, nothing left PENDING.
        assert s.rows(lb.id) == rows_before, title
        assert _status(s.lb(lb.id))[0] == "ACTIVE", title
    assert [x.id for x in c.listeners(loadbalancer_id=lb.id)] == [li.id]
    assert [x.id for x in c.pools(loadbalancer_id=lb.id)] == [pool.id]
    assert list(c.health_monitors(pool_id=pool.id)) == []
    assert list(c.members(pool.id)) == []
    c.delete_load_balancer(lb.id, cascade=True)


def test_nb_down_during_a_request_ends_in_error(stack: Stack) -> None:
    s, c = stack, stack.conn
    lb, _li = _lb_with_listener(s, "nb-down", 81)
    rows_before = s.rows(lb.id)
    s.sandbox.kill_nb()
    try:
        li2 = c.create_listener(
            loadbalancer_id=lb.id, protocol="UDP", protocol_port=5353, project_id=PROJECT
        )
        s.settled(lb.id)
        assert c.get_listener(li2.id).provisioning_status == "ERROR"
        assert c.get_load_balancer(lb.id).provisioning_status == "ACTIVE"
    finally:
        s.sandbox.restart_nb()
    s.wait(lambda: _nb_answers(s), message="NB back")
    # No half rows: the UDP row was never written.
    assert s.rows(lb.id) == rows_before
    c.delete_load_balancer(lb.id, cascade=True)


def _nb_answers(s: Stack) -> bool:
    try:
        s.sandbox.nbctl("--timeout=2", "show")
        return True
    except Exception:
        return False


def test_driver_agent_restarted_statuses_are_not_lost(stack: Stack) -> None:
    s, c = stack, stack.conn
    lb, li = _lb_with_listener(s, "agent-restart", 82)
    s.services.stop_agent()
    try:
        pool = c.create_pool(
            listener_id=li.id, protocol="TCP", lb_algorithm="SOURCE_IP_PORT", project_id=PROJECT
        )
        time.sleep(2)
        assert c.get_pool(pool.id).provisioning_status == "PENDING_CREATE"
    finally:
        s.services.start_agent()
    s.settled(lb.id)
    assert c.get_pool(pool.id).provisioning_status == "ACTIVE"
    assert s.row(lb.id, "tcp")["external_ids"][f"listener_{li.id}"] == f"82:pool_{pool.id}"
    c.delete_load_balancer(lb.id, cascade=True)


def test_two_api_processes_write_one_pool_concurrently(stack: Stack) -> None:
    import threading

    s = stack
    if s.services.apis[1] is None:
        s.services.start_api(1)
    lb, li = _lb_with_listener(s, "two-apis", 83)
    pool = s.conn.create_pool(
        listener_id=li.id, protocol="TCP", lb_algorithm="SOURCE_IP_PORT", project_id=PROJECT
    )
    s.settled(lb.id)
    errors: list[BaseException] = []

    def writer(api: int, first: int) -> None:
        conn = s.connect(api)
        try:
            for n in range(first, first + 5):
                deadline = time.monotonic() + 120
                while True:
                    try:
                        conn.create_member(
                            pool.id,
                            address=f"10.10.10.{n}",
                            protocol_port=80,
                            subnet_id=s.private_subnet,
                            project_id=PROJECT,
                        )
                        break
                    except openstack.exceptions.ConflictException:
                        # The LB is PENDING_UPDATE from the other API's request: retry.
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
        except BaseException as e:
            errors.append(e)

    threads = [
        threading.Thread(target=writer, args=(0, 20)),
        threading.Thread(target=writer, args=(1, 40)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s.settled(lb.id)
    members = list(s.conn.members(pool.id))
    assert sorted(m.address for m in members) == sorted(
        [f"10.10.10.{n}" for n in range(20, 25)] + [f"10.10.10.{n}" for n in range(40, 45)]
    )
    assert {m.provisioning_status for m in members} == {"ACTIVE"}
    backends = s.row(lb.id, "tcp")["vips"]
    (value,) = backends.values()
    assert sorted(value.split(",")) == sorted(
        [f"10.10.10.{n}:80" for n in range(20, 25)] + [f"10.10.10.{n}:80" for n in range(40, 45)]
    )
    s.conn.delete_load_balancer(lb.id, cascade=True)
