"""``ovnlb sync`` agrees with the request path (issue 11, item 4).

For generated request histories (every request type, tests/histories.py)
applied one by one, the plan of a sync from the equivalent Octavia view is
empty: on rows the request path wrote, ``plan``/``check`` report no drift and
``sync`` rewrites nothing, column by column.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from histories import (
    INTERFACES,
    OctaviaModel,
    draw_request,
    event_topology_ops,
    interface_ops,
    interface_port,
    octavia_view,
)
from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.actions import lrp_row, router_interface_event
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_core import events as ev
from ovnlb_core import sync as core
from ovnlb_core.errors import OvnlbError
from ovnlb_core.parse import parse
from ovnlb_core.plan import LbRowSet, LoadBalancerRow
from ovnlb_core.topology import Topology


def _history(data: st.DataObject, steps: int, log: list[str]) -> tuple[OvnLbDriver, OctaviaModel]:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS)
    model = OctaviaModel()
    for _ in range(steps):
        request = draw_request(data, model, backend.reader())
        driver.view = octavia_view(model)
        try:
            handle(driver, request)
        except OvnlbError:
            continue
        model.applied(request)
        log.append(json.dumps(request, sort_keys=True))
    return driver, model


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_plan_after_the_request_path_is_empty(data: st.DataObject) -> None:
    log: list[str] = []
    driver, model = _history(data, data.draw(st.integers(1, 14), label="steps"), log)
    reader = driver.backend.reader()
    if not model.exists:
        assert core.rowset(reader, demo.LB) == LbRowSet()
        return
    action = core.sync_action(
        model.desired(), core.rowset(reader, demo.LB), Topology(reader, demo.SUBNETS)
    )
    assert action.error is None
    assert action.issues == ()
    assert action.plan.is_empty(), "\n".join([*log, json.dumps(core.action_json(action))])


def _sync_after(
    model: OctaviaModel, requests: tuple[dict[str, Any], ...]
) -> tuple[LoadBalancerRow, core.SyncAction]:
    """Apply ``requests`` through the driver (the model follows); the only row and the
    sync action from the equivalent Octavia view."""
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS)
    for request in requests:
        handle(driver, request)
        model.applied(request)
    reader = backend.reader()
    (row,) = core.rowset(reader, demo.LB).lbs.values()
    action = core.sync_action(
        model.desired(), core.rowset(reader, demo.LB), Topology(reader, demo.SUBNETS)
    )
    return row, action


def test_selection_fields_of_a_deleted_last_pool_are_not_drift() -> None:
    """The issue's case: listeners remain, the row's last (SOURCE_IP) pool is deleted."""
    model = OctaviaModel()
    lid, pid = "21e77cde-854f-4c3e-bd8c-9536ae044301", "898be8a2-5185-4f3b-8658-a56457f59501"
    listener = {
        "listener_id": lid,
        "loadbalancer_id": demo.LB,
        "protocol": "TCP",
        "protocol_port": 80,
        "default_pool_id": None,
        "admin_state_up": True,
    }
    pool = {
        "pool_id": pid,
        "loadbalancer_id": demo.LB,
        "listener_id": lid,
        "protocol": "TCP",
        "lb_algorithm": "SOURCE_IP",
        "admin_state_up": True,
        "session_persistence": None,
    }
    row, action = _sync_after(
        model,
        (
            {"op": "lb_create", "loadbalancer": dict(model.lb)},
            {"op": "listener_create", "listener": listener},
            {"op": "pool_create", "pool": pool},
            {"op": "pool_delete", "pool": {**pool, "members": [], "healthmonitor": None}},
        ),
    )
    # The request path (like the reference, B10) keeps the deleted pool's fields.
    assert row.selection_fields == ("ip_dst", "ip_src")
    assert action.kind == core.ActionKind.IN_SYNC, core.action_json(action)


def test_selection_fields_of_a_deleted_pool_with_another_pool_left_are_not_drift() -> None:
    """Found by the property above: a SOURCE_IP pool created after a SOURCE_IP_PORT pool of
    the same row and then deleted leaves its fields (spec 1.5: the last pool written wins,
    pool_delete does not restore them), though the remaining pool hashes on four fields."""
    model = OctaviaModel()
    kept, gone = "898be8a2-5185-4f3b-8658-a56457f59502", "898be8a2-5185-4f3b-8658-a56457f59501"

    def pool(pool_id: str, algorithm: str) -> dict[str, object]:
        return {
            "pool_id": pool_id,
            "loadbalancer_id": demo.LB,
            "listener_id": None,
            "protocol": "TCP",
            "lb_algorithm": algorithm,
            "admin_state_up": True,
            "session_persistence": None,
        }

    row, action = _sync_after(
        model,
        (
            {"op": "lb_create", "loadbalancer": dict(model.lb)},
            {"op": "pool_create", "pool": pool(kept, "SOURCE_IP_PORT")},
            {"op": "pool_create", "pool": pool(gone, "SOURCE_IP")},
            {
                "op": "pool_delete",
                "pool": {**pool(gone, "SOURCE_IP"), "members": [], "healthmonitor": None},
            },
        ),
    )
    assert row.selection_fields == ("ip_dst", "ip_src")
    assert action.kind == core.ActionKind.IN_SYNC, core.action_json(action)


def test_unmonitored_member_mapped_beside_a_disabled_monitored_one_is_not_drift() -> None:
    """Found by the property above: a monitored pool's member at 10.10.10.10 is disabled
    (unmapped); an enabled member of an unmonitored pool at the same address, added after
    the monitor, is mapped by member_create (A.3 step 2.5: the row has a health check)."""
    model = OctaviaModel()
    plain, watched = "898be8a2-5185-4f3b-8658-a56457f59501", "898be8a2-5185-4f3b-8658-a56457f59502"

    def pool(pool_id: str) -> dict[str, object]:
        return {
            "pool_id": pool_id,
            "loadbalancer_id": demo.LB,
            "listener_id": None,
            "protocol": "TCP",
            "lb_algorithm": "SOURCE_IP_PORT",
            "admin_state_up": True,
            "session_persistence": None,
        }

    def member(member_id: str, pool_id: str, up: bool) -> dict[str, object]:
        return {
            "member_id": member_id,
            "pool_id": pool_id,
            "address": "10.10.10.10",
            "protocol_port": 80,
            "subnet_id": demo.MEMBER_SUBNET,
            "admin_state_up": up,
        }

    hm = {
        "healthmonitor_id": "6d2f1e0a-7b3c-4d5e-9f8a-1b2c3d4e5f02",
        "pool_id": watched,
        "type": "TCP",
        "delay": 10,
        "timeout": 5,
        "max_retries": 3,
        "max_retries_down": 3,
        "admin_state_up": True,
    }
    row, action = _sync_after(
        model,
        (
            {"op": "lb_create", "loadbalancer": dict(model.lb)},
            {"op": "pool_create", "pool": pool(plain)},
            {"op": "pool_create", "pool": pool(watched)},
            {"op": "hm_create", "healthmonitor": hm},
            {
                "op": "member_create",
                "member": member("adf55e70-3d50-4e62-99fd-dd77eababb00", watched, False),
            },
            {
                "op": "member_create",
                "member": member("adf55e70-3d50-4e62-99fd-dd77eababb01", plain, True),
            },
        ),
    )
    assert "10.10.10.10" in row.ip_port_mappings
    assert action.kind == core.ActionKind.IN_SYNC, core.action_json(action)


def _toggle_interface(driver: OvnLbDriver, i: int) -> None:
    """Neutron adds or removes interface ``i``; the agent's LRP event runs (spec 3.6)."""
    backend = driver.backend
    name = f"lrp-{interface_port(i)}"
    before = lrp_row(backend, name)
    backend.apply_raw(interface_ops(backend.reader(), i))
    after = lrp_row(backend, name)
    if after is not None:
        change = ev.RowChange("Logical_Router_Port", after[0], None, after[1])
    else:
        assert before is not None
        change = ev.RowChange("Logical_Router_Port", before[0], before[1], None)
    router_interface_event(backend, change, driver.subnets, driver.view)
    # The same event seen twice changes nothing (event based, yet idempotent).
    reader = backend.reader()
    for action in ev.dedupe(ev.nb_actions(reader, change)):
        assert ev.plan_action(reader, action, driver.subnets, driver.view).plan.is_empty()


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_plan_after_requests_and_interface_events_is_empty(data: st.DataObject) -> None:
    """Router-interface events mixed into the histories: associations that depend on the
    history (a deleted member's router, spec 3.5; an LB reached through its router joining a
    second router; a router's LBs joining a network of the other family, spec 3.6) are not
    drift for ``sync``."""
    backend = MemoryBackend()
    backend.apply_raw(event_topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS)
    model = OctaviaModel()
    log: list[str] = []
    for _ in range(data.draw(st.integers(1, 16), label="steps")):
        driver.view = octavia_view(model)
        if model.exists and data.draw(st.integers(0, 3), label="event?") == 0:
            i = data.draw(st.integers(0, len(INTERFACES) - 1), label="interface")
            _toggle_interface(driver, i)
            log.append(f"toggle interface {INTERFACES[i]}")
            continue
        request = draw_request(data, model, backend.reader())
        try:
            handle(driver, request)
        except OvnlbError:
            continue
        model.applied(request)
        log.append(json.dumps(request, sort_keys=True))
    reader = backend.reader()
    if not model.exists:
        assert core.rowset(reader, demo.LB) == LbRowSet()
        return
    action = core.sync_action(
        model.desired(), core.rowset(reader, demo.LB), Topology(reader, demo.SUBNETS)
    )
    assert action.error is None
    assert action.issues == ()
    assert action.plan.is_empty(), "\n".join([*log, json.dumps(core.action_json(action))])
    # A watcher's catch-up accepts the same router associations (its FIP part is left out:
    # fip_associate here writes no NAT row, Neutron does).
    topo = Topology(reader, demo.SUBNETS)
    state = parse(demo.LB, core.rowset(reader, demo.LB))
    for row in state.rows:
        assert ev.settle_routers(row, topo) is row, log


def test_router_of_a_deleted_member_is_not_drift() -> None:
    """Spec 3.5: a member delete leaves the member's router (here R2, reached through an
    interface on the member network) and ``lr_ref``; ``sync`` keeps them."""
    backend = MemoryBackend()
    backend.apply_raw(event_topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS)
    model = OctaviaModel()
    lb_only = {"op": "lb_create", "loadbalancer": dict(model.lb)}
    handle(driver, lb_only)
    model.applied(lb_only)
    _toggle_interface(driver, 2)  # R2 on the member network: the LB is not there yet
    pid = "898be8a2-5185-4f3b-8658-a56457f59501"
    pool = {
        "pool_id": pid,
        "loadbalancer_id": demo.LB,
        "listener_id": None,
        "protocol": "TCP",
        "lb_algorithm": "SOURCE_IP_PORT",
        "admin_state_up": True,
        "session_persistence": None,
    }
    member = {
        "member_id": "adf55e70-3d50-4e62-99fd-dd77eababb00",
        "pool_id": pid,
        "address": "10.10.10.10",
        "protocol_port": 80,
        "subnet_id": demo.MEMBER_SUBNET,
        "admin_state_up": True,
    }
    for request in (
        {"op": "pool_create", "pool": pool},
        {"op": "member_create", "member": member},
        {"op": "member_delete", "member": member},
    ):
        driver.view = octavia_view(model)
        handle(driver, request)
        model.applied(request)
    _toggle_interface(driver, 2)  # R2 leaves the member network
    reader = backend.reader()
    (uuid, row) = next(iter(core.rowset(reader, demo.LB).lbs.items()))
    rows = core.rowset(reader, demo.LB)
    # R2 no longer reaches the member network; the LB was not on it for its own reason
    # (ls_refs holds only the VIP network), so R2 stays (spec 3.6 removes only the network).
    assert INTERFACES[2][0] in rows.routers[uuid]
    assert row.external_ids["lr_ref"].split(",") == [f"neutron-{demo.ROUTER}", INTERFACES[2][0]]
    action = core.sync_action(
        model.desired(), core.rowset(reader, demo.LB), Topology(reader, demo.SUBNETS)
    )
    assert action.kind == core.ActionKind.IN_SYNC, core.action_json(action)
