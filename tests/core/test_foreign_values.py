"""Values a foreign writer left that are valid JSON/grammar but impossible (issue 11, item 5).

Each is either refused by a request with a typed :class:`RowParseError`
(nothing written) or repaired by a sync from Octavia's view, which then
gives exactly the rows the request path wrote before the damage; never
silently spread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from histories import LISTENERS, POOLS, OctaviaModel, all_rows, hm_id
from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_core import sync as core
from ovnlb_core.errors import RowParseError
from ovnlb_core.plan import LbRowSet, diff
from ovnlb_core.rows import lb_rowset
from ovnlb_core.topology import Topology

LID = sorted(LISTENERS)[0]
PID = sorted(POOLS)[0]
OTHER_POOL = "00000000-0000-4000-8000-0000000000aa"
MEMBER_NET_LS = f"neutron-{demo.MEMBER_NET}"


def _requests() -> list[dict[str, Any]]:
    pool = {
        "pool_id": PID,
        "loadbalancer_id": demo.LB,
        "listener_id": LID,
        "protocol": "TCP",
        "lb_algorithm": "SOURCE_IP_PORT",
        "admin_state_up": True,
        "session_persistence": None,
    }
    members = [
        {
            "member_id": f"adf55e70-3d50-4e62-99fd-dd77eababb0{i}",
            "pool_id": PID,
            "address": f"10.10.10.1{i}",
            "protocol_port": 80,
            "subnet_id": demo.MEMBER_SUBNET,
            "admin_state_up": True,
        }
        for i in range(2)
    ]
    hm = {
        "healthmonitor_id": hm_id(PID),
        "pool_id": PID,
        "type": "TCP",
        "delay": 10,
        "timeout": 5,
        "max_retries": 3,
        "max_retries_down": 3,
        "admin_state_up": True,
    }
    listener = {
        "listener_id": LID,
        "loadbalancer_id": demo.LB,
        "protocol": "TCP",
        "protocol_port": 80,
        "default_pool_id": None,
        "admin_state_up": True,
    }
    return [
        {"op": "lb_create", "loadbalancer": OctaviaModel().lb},
        {"op": "listener_create", "listener": listener},
        {"op": "pool_create", "pool": pool},
        *({"op": "member_create", "member": m} for m in members),
        {"op": "hm_create", "healthmonitor": hm},
    ]


@pytest.fixture
def history() -> tuple[OvnLbDriver, OctaviaModel]:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS)
    model = OctaviaModel()
    for request in _requests():
        handle(driver, request)
        model.applied(request)
    return driver, model


def _corrupt(driver: OvnLbDriver, change: Callable[[LbRowSet], LbRowSet]) -> None:
    """A foreign writer's transaction: any change of the load balancer's rows."""
    actual = lb_rowset(driver.backend.reader(), demo.LB)
    driver.backend.commit(diff(actual, change(actual)), basis=actual)


def _edit_row(rows: LbRowSet, **columns: Any) -> LbRowSet:
    ((uuid, row),) = rows.lbs.items()
    new = {k: v(getattr(row, k)) if callable(v) else v for k, v in columns.items()}
    return attrs.evolve(rows, lbs={uuid: attrs.evolve(row, **new)})


def _ids(**changes: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda ids: {**ids, **changes}


def _sync(driver: OvnLbDriver, model: OctaviaModel) -> core.SyncAction:
    reader = driver.backend.reader()
    action = core.sync_action(
        model.desired(), core.rowset(reader, demo.LB), Topology(reader, demo.SUBNETS)
    )
    driver.backend.commit(action.plan, basis=action.actual)
    return action


@pytest.mark.parametrize("count", ["-3", "0", "1.5", "true"])
def test_impossible_ls_refs_count_is_a_parse_error_and_sync_repairs_it(
    history: tuple[OvnLbDriver, OctaviaModel], count: str
) -> None:
    driver, model = history
    clean = all_rows(driver.backend)
    refs = f'{{"neutron-{demo.NET}": 1, "{MEMBER_NET_LS}": {count}}}'
    _corrupt(driver, lambda rows: _edit_row(rows, external_ids=_ids(ls_refs=refs)))
    damaged = all_rows(driver.backend)
    member = model.members[sorted(model.members)[0]]
    with pytest.raises(RowParseError, match="ls_refs"):
        driver.member_delete(member)
    assert all_rows(driver.backend) == damaged  # the request wrote nothing
    action = _sync(driver, model)
    assert any("ls_refs" in i for i in action.issues)
    assert all_rows(driver.backend) == clean


@pytest.mark.parametrize(
    "damage",
    [
        # A listener naming a pool that is on no row.
        pytest.param(
            lambda r: _edit_row(
                r, external_ids=_ids(**{f"listener_{LID}": f"80:pool_{OTHER_POOL}"})
            ),
            id="listener-missing-pool",
        ),
        # An orphan pool key (no listener names it, Octavia does not know it).
        pytest.param(
            lambda r: _edit_row(r, external_ids=_ids(**{f"pool_{OTHER_POOL}": ""})),
            id="orphan-pool",
        ),
        pytest.param(
            lambda r: _edit_row(r, external_ids=_ids(**{f"pool_{OTHER_POOL}:D": ""})),
            id="orphan-disabled-pool",
        ),
        # ip_port_mappings: a wrong value, an entry for no member, a key that is no address.
        pytest.param(
            lambda r: _edit_row(r, ip_port_mappings=lambda m: {**m, "10.10.10.10": "garbage"}),
            id="mapping-value",
        ),
        pytest.param(
            lambda r: _edit_row(r, ip_port_mappings=lambda m: {**m, "10.99.0.1": "p:10.0.0.1"}),
            id="mapping-stray",
        ),
        pytest.param(
            lambda r: _edit_row(r, ip_port_mappings=lambda m: {**m, "not-an-ip": ":"}),
            id="mapping-key",
        ),
    ],
)
def test_impossible_row_values_are_repaired_by_sync(
    history: tuple[OvnLbDriver, OctaviaModel], damage: Callable[[LbRowSet], LbRowSet]
) -> None:
    driver, model = history
    clean = all_rows(driver.backend)
    _corrupt(driver, damage)
    assert all_rows(driver.backend) != clean
    action = _sync(driver, model)
    assert action.kind == core.ActionKind.UPDATE
    assert all_rows(driver.backend) == clean


@pytest.mark.parametrize(
    "options",
    [
        {"interval": "-1", "timeout": "5", "success_count": "3", "failure_count": "3"},
        {"interval": "ten", "timeout": "5", "success_count": "3", "failure_count": "3"},
        {"timeout": "5"},
        {"interval": "10", "timeout": "5", "success_count": "3", "failure_count": "3", "x": "y"},
    ],
)
def test_impossible_health_check_options_are_repaired_by_sync(
    history: tuple[OvnLbDriver, OctaviaModel], options: dict[str, str]
) -> None:
    driver, model = history
    clean = all_rows(driver.backend)

    def damage(rows: LbRowSet) -> LbRowSet:
        ((u, hc),) = rows.health_checks.items()
        bad = attrs.evolve(hc, options=options, vip="garbage")
        return attrs.evolve(rows, health_checks={u: bad})

    _corrupt(driver, damage)
    assert all_rows(driver.backend) != clean
    _sync(driver, model)
    assert all_rows(driver.backend) == clean
