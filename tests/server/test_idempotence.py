"""Every request applied twice gives the rows of one application, and the second sends nothing.

A request whose commit outcome is unknown (the NB leader died after the
followers got the transaction) is re-read, re-planned and re-applied by the
driver: that is only safe when applying a request to the rows it already
produced changes nothing. Histories of every request type (tests/histories.py)
are generated; after each request, the same request is applied again.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from histories import OctaviaModel, all_rows, copy_request, draw_request, octavia_view
from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_core.errors import OvnlbError
from ovnlb_core.nb import SCHEMA
from ovnlb_core.plan import LbRowSet, diff
from ovnlb_core.rows import lb_rowset


def _delta(once: dict[str, dict[str, dict[str, Any]]], driver: OvnLbDriver) -> list[Any]:
    """What the second application changed (for the failure message)."""
    now = all_rows(driver.backend)
    out: list[Any] = []
    for t in SCHEMA:
        for u in set(once[t]) | set(now[t]):
            a, b = once[t].get(u), now[t].get(u)
            if a != b:
                cols = {c for r in (a or {}, b or {}) for c in r}
                out.append(
                    (
                        t,
                        u,
                        {
                            c: ((a or {}).get(c), (b or {}).get(c))
                            for c in cols
                            if (a or {}).get(c) != (b or {}).get(c)
                        },
                    )
                )
    return out


def _apply(driver: OvnLbDriver, request: dict[str, Any]) -> str | None:
    try:
        handle(driver, copy_request(request))
    except OvnlbError as exc:
        return type(exc).__name__
    return None


def check_history(driver: OvnLbDriver, data: st.DataObject, steps: int) -> list[str]:
    """Draw and apply ``steps`` requests, each applied a second time; the ops applied."""
    model = OctaviaModel()
    done: list[str] = []
    for _ in range(steps):
        request = draw_request(data, model, driver.backend.reader())
        driver.view = octavia_view(model)
        error = _apply(driver, request)
        once, sent = all_rows(driver.backend), driver.backend.transaction_count()
        again = _apply(driver, request)
        op = request["op"]
        assert all_rows(driver.backend) == once, f"{op} twice differs: {_delta(once, driver)}"
        assert driver.backend.transaction_count() == sent, f"{op}: second application wrote"
        assert (error is None) == (again is None), (op, error, again)
        if error is None:
            model.applied(request)
        done.append(op if error is None else f"{op} ({error})")
    return done


def _fresh_memory() -> OvnLbDriver:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    return OvnLbDriver(backend, demo.SUBNETS)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_request_twice_equals_once_in_memory(data: st.DataObject) -> None:
    check_history(_fresh_memory(), data, data.draw(st.integers(1, 14), label="steps"))


def test_histories_reach_every_request_type() -> None:
    """The generator is not stuck on a few ops: a fixed-seed sweep applies each of them."""
    from histories import OPS

    seen: set[str] = set()

    @settings(
        max_examples=60, deadline=None, database=None, derandomize=True, phases=[Phase.generate]
    )
    @given(st.data())
    def sweep(data: st.DataObject) -> None:
        seen.update(x for x in check_history(_fresh_memory(), data, 20) if "(" not in x)

    sweep()
    # lb_failover is always refused (spec 5.1): refused twice, nothing written.
    assert set(OPS) - {"lb_failover"} | {"lb_create"} <= seen


@pytest.mark.ovn
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_request_twice_equals_once_on_a_real_server(
    nb_server: OvnSandbox, data: st.DataObject
) -> None:
    from ovnlb_backends.idl import IdlBackend

    backend = IdlBackend(nb_server.nb_remote, timeout=10)
    try:
        if not backend.reader().by_name("Logical_Switch", f"neutron-{demo.NET}"):
            backend.apply_raw(demo.topology_ops())
        # The server is shared by the examples: start without the load balancer.
        actual = lb_rowset(backend.reader(), demo.LB)
        backend.commit(diff(actual, LbRowSet()), basis=actual)
        driver = OvnLbDriver(backend, demo.SUBNETS)
        before = nb_server.nb_log_records() - backend.transaction_count()
        check_history(driver, data, data.draw(st.integers(1, 10), label="steps"))
        # The server's own record count: no transaction the backend did not report.
        assert nb_server.nb_log_records() == before + backend.transaction_count()
    finally:
        backend.close()


# -- the two requests issue 11 found, and pool_delete's payloads ------------------------------

MEMBER2 = "bdf55e70-3d50-4e62-99fd-dd77eababb1c"
MEMBER3 = "cdf55e70-3d50-4e62-99fd-dd77eababb1c"


def _lb_with_pool(driver: OvnLbDriver, members: list[dict[str, Any]], hm: bool) -> None:
    driver.lb_create(
        {
            "loadbalancer_id": demo.LB,
            "vip_address": "172.24.4.9",
            "vip_port_id": demo.VIP_PORT,
            "vip_network_id": demo.NET,
            "vip_subnet_id": demo.VIP_SUBNET,
            "admin_state_up": True,
        }
    )
    driver.listener_create(_LISTENER)
    driver.pool_create(_POOL)
    for m in members:
        driver.member_create(m)
    if hm:
        driver.hm_create(_HM)


_LISTENER = {
    "listener_id": demo.LISTENER,
    "loadbalancer_id": demo.LB,
    "protocol": "TCP",
    "protocol_port": 80,
    "admin_state_up": True,
}
_POOL = {
    "pool_id": demo.POOL,
    "loadbalancer_id": demo.LB,
    "listener_id": demo.LISTENER,
    "protocol": "TCP",
    "lb_algorithm": "SOURCE_IP_PORT",
    "admin_state_up": True,
}
_HM = {
    "healthmonitor_id": demo.HM,
    "pool_id": demo.POOL,
    "type": "TCP",
    "delay": 10,
    "timeout": 5,
    "max_retries": 3,
    "max_retries_down": 3,
    "admin_state_up": True,
}


def _m(mid: str, port: int) -> dict[str, Any]:
    return {
        "member_id": mid,
        "pool_id": demo.POOL,
        "address": "10.10.10.10",
        "protocol_port": port,
        "subnet_id": demo.MEMBER_SUBNET,
        "admin_state_up": True,
    }


def _lb_row(driver: OvnLbDriver) -> Any:
    (row,) = lb_rowset(driver.backend.reader(), demo.LB).lbs.values()
    return row


def test_hm_create_twice_keeps_one_check_per_vip() -> None:
    driver = _fresh_memory()
    _lb_with_pool(driver, [_m(demo.MEMBER, 80)], hm=True)
    checks = driver.backend.reader().rows("Load_Balancer_Health_Check")
    assert len(checks) == 1  # one VIP, no FIP
    sent = driver.backend.transaction_count()
    driver.hm_create(_HM)
    assert driver.backend.reader().rows("Load_Balancer_Health_Check") == checks
    assert driver.backend.transaction_count() == sent


def test_batch_replacing_a_member_at_the_same_ip_keeps_its_mapping() -> None:
    driver = _fresh_memory()
    _lb_with_pool(driver, [_m(demo.MEMBER, 80)], hm=True)
    mapping = dict(_lb_row(driver).ip_port_mappings)
    # The member's port (on the member network) and the health-check port's address.
    assert list(mapping) == ["10.10.10.10"]
    assert mapping["10.10.10.10"].startswith(demo.MEMBER_PORT + ":")
    # Another id at the same IP, other port: the old member goes, the new one is monitored.
    driver.member_batch_update(demo.POOL, [_m(MEMBER2, 81)])
    row = _lb_row(driver)
    assert row.ip_port_mappings == mapping
    assert json.loads(row.external_ids["neutron:member_status"]) == {MEMBER2: "ONLINE"}
    sent = driver.backend.transaction_count()
    driver.member_batch_update(demo.POOL, [_m(MEMBER2, 81)])
    assert driver.backend.transaction_count() == sent


@pytest.mark.parametrize("hm", [True, False])
def test_pool_delete_reports_members_in_one_payload(hm: bool) -> None:
    driver = _fresh_memory()
    members = [_m(demo.MEMBER, 80), _m(MEMBER2, 81), _m(MEMBER3, 82)]
    _lb_with_pool(driver, members, hm=hm)
    pool = {**_POOL, "members": members, "healthmonitor": _HM if hm else None}
    payloads = driver.pool_delete(pool)
    # Spec A.2 (pool_delete, last bullet): [monitor,] one member_delete roll-up, pool.
    assert len(payloads) == (3 if hm else 2)
    if hm:
        assert payloads[0]["healthmonitors"] == [
            {"id": demo.HM, "provisioning_status": "DELETED", "operating_status": "NO_MONITOR"}
        ]
    deleted = [{"id": m["member_id"], "provisioning_status": "DELETED"} for m in members]
    assert payloads[-2]["members"] == deleted
    # The roll-up after all are removed (spec 5.3 member_delete): an empty pool is ONLINE.
    assert payloads[-2]["pools"] == [
        {"id": demo.POOL, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
    ]
    assert payloads[-1] == {
        "pools": [{"id": demo.POOL, "provisioning_status": "DELETED"}],
        "loadbalancers": [{"id": demo.LB, "provisioning_status": "ACTIVE"}],
        "listeners": [{"id": demo.LISTENER, "provisioning_status": "ACTIVE"}],
    }
