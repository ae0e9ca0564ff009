"""Provider requests given as octavia-lib data-model objects (what Octavia really passes).

octavia-lib's ``to_dict(recurse=True)`` leaves out unset attributes, which is
how an update request says which fields it carries. The walkthrough run with
those objects must write the same rows and send the same reports as with the
dict forms.
"""

from __future__ import annotations

from typing import Any

from octavia_lib.api.drivers import data_models as dm

from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_core import octavia as oc
from ovnlb_core.dump import canonical_dump


def _with_dicts() -> tuple[list[list[Any]], dict[str, Any]]:
    backend = MemoryBackend()
    reports = [statuses for _title, statuses in demo.walkthrough(backend)]
    return reports, canonical_dump(backend.reader())


def _with_objects() -> tuple[list[list[Any]], dict[str, Any]]:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    d = OvnLbDriver(backend, demo.SUBNETS)
    member = dm.Member(
        member_id=demo.MEMBER,
        pool_id=demo.POOL,
        address="10.10.10.10",
        protocol_port=63015,
        subnet_id=demo.MEMBER_SUBNET,
        admin_state_up=True,
    )
    reports = [
        d.lb_create(
            dm.LoadBalancer(
                loadbalancer_id=demo.LB,
                vip_address="172.24.4.9",
                vip_port_id=demo.VIP_PORT,
                vip_network_id=demo.NET,
                vip_subnet_id=demo.VIP_SUBNET,
                admin_state_up=True,
            )
        ),
        d.listener_create(
            dm.Listener(
                listener_id=demo.LISTENER,
                loadbalancer_id=demo.LB,
                protocol="TCP",
                protocol_port=64015,
                admin_state_up=True,
            )
        ),
        d.pool_create(
            dm.Pool(
                pool_id=demo.POOL,
                loadbalancer_id=demo.LB,
                listener_id=demo.LISTENER,
                protocol="TCP",
                lb_algorithm="SOURCE_IP_PORT",
                admin_state_up=True,
            )
        ),
        d.member_create(member),
        d.hm_create(
            dm.HealthMonitor(
                healthmonitor_id=demo.HM,
                pool_id=demo.POOL,
                type="TCP",
                delay=10,
                timeout=5,
                max_retries=3,
                max_retries_down=3,
                admin_state_up=True,
            )
        ),
        # Octavia sends the changed fields only; the rest stay Unset.
        d.member_update(member, dm.Member(member_id=demo.MEMBER, admin_state_up=False)),
    ]
    return reports, canonical_dump(backend.reader())


def test_walkthrough_with_octavia_lib_objects_matches_dicts() -> None:
    assert _with_objects() == _with_dicts()


def test_update_carries_only_set_fields() -> None:
    old = dm.Pool(
        pool_id=demo.POOL, loadbalancer_id=demo.LB, protocol="TCP", lb_algorithm="SOURCE_IP_PORT"
    )
    new = dm.Pool(pool_id=demo.POOL, admin_state_up=False)
    upd = oc.update_of(oc.Pool, old, new)
    assert upd.new.admin_state_up is False
    assert upd.new.lb_algorithm == "SOURCE_IP_PORT"
    assert "admin_state_up" in upd.changed
    assert "lb_algorithm" not in upd.changed


def test_nested_children_and_absent_optionals() -> None:
    lb = dm.LoadBalancer(
        loadbalancer_id=demo.LB,
        vip_address="172.24.4.9",
        listeners=[
            dm.Listener(
                listener_id=demo.LISTENER,
                loadbalancer_id=demo.LB,
                protocol="UDP",
                protocol_port=53,
            )
        ],
    )
    obj = oc.LoadBalancer.from_dict(lb)
    # Absent optional ids are None (not a placeholder that would reach the rows).
    assert obj.vip_port_id is None
    assert obj.vip_subnet_id is None
    assert obj.listeners[0].protocol == "UDP"
    assert obj.listeners[0].default_pool_id is None
