"""``ovnlb sync`` agrees with the request path (issue 11, item 4).

For generated request histories (every request type, tests/histories.py)
applied one by one, the plan of a sync from the equivalent Octavia view is
empty: on rows the request path wrote, ``plan``/``check`` report no drift and
``sync`` rewrites nothing, column by column.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from histories import OctaviaModel, draw_request
from ovnlb_backends import demo
from ovnlb_backends.driver import OvnLbDriver, handle
from ovnlb_backends.memory import MemoryBackend
from ovnlb_core import sync as core
from ovnlb_core.errors import OvnlbError
from ovnlb_core.plan import LbRowSet
from ovnlb_core.topology import Topology
from test_idempotence import _view


def _history(data: st.DataObject, steps: int, log: list[str]) -> tuple[OvnLbDriver, OctaviaModel]:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS)
    model = OctaviaModel()
    for _ in range(steps):
        request = draw_request(data, model, backend.reader())
        driver.view = _view(model)
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


def test_selection_fields_of_a_deleted_last_pool_are_not_drift() -> None:
    """The issue's case: listeners remain, the row's last (SOURCE_IP) pool is deleted."""
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS)
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
    for request in (
        {"op": "lb_create", "loadbalancer": dict(model.lb)},
        {"op": "listener_create", "listener": listener},
        {"op": "pool_create", "pool": pool},
        {"op": "pool_delete", "pool": {**pool, "members": [], "healthmonitor": None}},
    ):
        handle(driver, request)
        model.applied(request)
    reader = backend.reader()
    (row,) = core.rowset(reader, demo.LB).lbs.values()
    # The request path (like the reference, B10) keeps the deleted pool's fields.
    assert row.selection_fields == ("ip_dst", "ip_src")
    action = core.sync_action(
        model.desired(), core.rowset(reader, demo.LB), Topology(reader, demo.SUBNETS)
    )
    assert action.kind == core.ActionKind.IN_SYNC, core.action_json(action)
