"""The one request pipeline (ovnlb_core.pipeline) and the one retry loop (base.commit_with_retry).

A real in-memory NB with OVSDB semantics; the "concurrent writer" is a second
client that writes between a request's read and its commit, which the
memory backend detects through the basis (as ``verify`` does on a server).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ovnlb_backends.base import (
    BackendError,
    Reader,
    RetriesExhausted,
    TryAgain,
    commit_with_retry,
)
from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.actions import apply_action
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_core import events as ev
from ovnlb_core import requests as rq
from ovnlb_core.octavia import Listener, Member
from ovnlb_core.pipeline import Planned, plan_request_in
from ovnlb_core.plan import LbRowSet, NatColumns, NatUpdate, Plan
from ovnlb_core.rawops import RawOp
from ovnlb_core.rows import lb_rowset

LB_CREATE = {
    "loadbalancer_id": demo.LB,
    "vip_address": "172.24.4.9",
    "vip_port_id": demo.VIP_PORT,
    "vip_network_id": demo.NET,
    "vip_subnet_id": demo.VIP_SUBNET,
    "admin_state_up": True,
}
LISTENER = {
    "listener_id": demo.LISTENER,
    "loadbalancer_id": demo.LB,
    "protocol": "TCP",
    "protocol_port": 64015,
    "admin_state_up": True,
}
POOL = {
    "pool_id": demo.POOL,
    "loadbalancer_id": demo.LB,
    "listener_id": demo.LISTENER,
    "protocol": "TCP",
    "lb_algorithm": "SOURCE_IP_PORT",
    "admin_state_up": True,
}
MEMBER = {
    "member_id": demo.MEMBER,
    "pool_id": demo.POOL,
    "address": "10.10.10.10",
    "protocol_port": 63015,
    "subnet_id": demo.MEMBER_SUBNET,
    "admin_state_up": True,
}
MEMBER_FIP_NAT = "nat-7ef31e8f-a8e7-5b28-a0d1-422438e8bd52"
MEMBER_FIP_MAC = "fa:16:3e:00:00:50"


class InterleavedWriter:
    """A backend whose commits another client races: before each of the first
    ``races`` commits it writes a key into the load balancer's row."""

    def __init__(self, inner: MemoryBackend, races: int) -> None:
        self.inner = inner
        self.races = races
        self.commits = 0

    def reader(self) -> Reader:
        return self.inner.reader()

    def commit(self, plan: Plan, basis: LbRowSet | None = None) -> None:
        self.commits += 1
        if self.commits <= self.races:
            ((_u, row),) = self.inner.reader().by_name("Load_Balancer", demo.LB)
            eids = {**row["external_ids"], "other:writer": str(self.commits)}
            self.inner.apply_raw(
                [
                    {
                        "op": "update",
                        "table": "Load_Balancer",
                        "name": demo.LB,
                        "columns": {"external_ids": eids},
                    }
                ]
            )
        self.inner.commit(plan, basis)

    def apply_raw(self, ops: Sequence[RawOp]) -> None:
        self.inner.apply_raw(ops)

    def transaction_count(self) -> int:
        return self.inner.transaction_count()

    def connected(self) -> bool:
        return self.inner.connected()

    def schema_version(self) -> str | None:
        return self.inner.schema_version()

    def close(self) -> None:
        self.inner.close()


def _nb_with_lb() -> MemoryBackend:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    OvnLbDriver(backend, demo.SUBNETS).lb_create(LB_CREATE)
    return backend


def _listener_plan(reader: Reader) -> Planned:
    listener = Listener.from_dict(LISTENER)
    return plan_request_in(
        reader, demo.LB, lambda c, s: rq.listener_create(c, s, listener), demo.SUBNETS
    )


def test_a_concurrent_write_is_kept_and_the_request_replanned() -> None:
    racing = InterleavedWriter(_nb_with_lb(), races=2)
    planned, attempt = commit_with_retry(racing, _listener_plan, what="listener", backoff=0.0)
    # Two commits refused (their basis was stale), the third planned on the rows the
    # other client left: both changes are in NB.
    assert attempt == 3 and racing.commits == 3
    ((_u, row),) = racing.reader().by_name("Load_Balancer", demo.LB)
    assert row["external_ids"]["other:writer"] == "2"
    assert row["external_ids"][f"listener_{demo.LISTENER}"] == "64015:"
    assert planned.outcome.statuses  # the request's report comes from the committed pass


def test_retries_exhausted_is_the_one_gave_up_and_writes_nothing() -> None:
    racing = InterleavedWriter(_nb_with_lb(), races=100)
    with pytest.raises(RetriesExhausted, match="gave up after 3 attempts: listener") as err:
        commit_with_retry(racing, _listener_plan, what="listener", max_attempts=3, backoff=0.0)
    # A BackendError: the watcher catches up and sync counts an NB-side failure on it.
    assert isinstance(err.value, BackendError)
    assert racing.commits == 3
    ((_u, row),) = racing.reader().by_name("Load_Balancer", demo.LB)
    assert f"listener_{demo.LISTENER}" not in row["external_ids"]


def test_the_driver_goes_through_the_loop() -> None:
    racing = InterleavedWriter(_nb_with_lb(), races=1)
    driver = OvnLbDriver(racing, demo.SUBNETS, backoff=0.0)
    statuses = driver.listener_create(LISTENER)
    assert racing.commits == 2
    assert statuses and statuses[0]["listeners"][0]["id"] == demo.LISTENER
    driver = OvnLbDriver(InterleavedWriter(_nb_with_lb(), races=100), demo.SUBNETS, backoff=0.0)
    driver.max_attempts = 2
    with pytest.raises(RetriesExhausted, match=f"load balancer {demo.LB}"):
        driver.listener_create(LISTENER)


def test_an_event_action_stops_when_the_lock_is_lost() -> None:
    backend = _nb_with_lb()
    before = backend.transaction_count()
    listener = Listener.from_dict(LISTENER)
    action = ev.LbAction(demo.LB, "catch_up", lambda c, s: rq.listener_create(c, s, listener))
    with pytest.raises(BackendError, match="lost the lock"):
        apply_action(backend, action, demo.SUBNETS, may_write=lambda: False)
    assert backend.transaction_count() == before
    result = apply_action(backend, action, demo.SUBNETS, may_write=lambda: True)
    assert result.changed
    # Applied twice: the second pass plans nothing and sends no transaction.
    after = backend.transaction_count()
    assert not apply_action(backend, action, demo.SUBNETS).changed
    assert backend.transaction_count() == after


def _member_fip_nb() -> tuple[MemoryBackend, OvnLbDriver]:
    """An LB with a VIP FIP and a pool, and a FIP NAT on the member's port (spec 6.4)."""
    backend = _nb_with_lb()
    nat: dict[str, Any] = {
        "_name": MEMBER_FIP_NAT,
        "type": "dnat_and_snat",
        "external_ip": "203.0.113.50",
        "external_mac": MEMBER_FIP_MAC,
        "logical_ip": "10.10.10.10",
        "logical_port": demo.MEMBER_PORT,
        "external_ids": {
            "neutron:fip_port_id": demo.MEMBER_PORT,
            "neutron:fip_id": MEMBER_FIP_NAT.removeprefix("nat-"),
        },
    }
    backend.apply_raw(
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
    driver = OvnLbDriver(backend, demo.SUBNETS)
    driver.listener_create(LISTENER)
    driver.pool_create(POOL)
    driver.fip_associate(demo.LB, "203.0.113.10", "vip", demo.VIP_PORT, "172.24.4.9")
    return backend, driver


def _member_plan(reader: Reader) -> Planned:
    member = Member.from_dict(MEMBER)
    return plan_request_in(
        reader, demo.LB, lambda c, s: rq.member_create(c, s, member), demo.SUBNETS
    )


def test_nat_changes_go_through_the_row_sets_and_the_basis() -> None:
    backend, _driver = _member_fip_nb()
    ((nat_uuid, _row),) = backend.reader().rows("NAT").items()
    planned = _member_plan(backend.reader())
    # Spec 6.4: the member's FIP is centralised, both columns cleared: the NAT row is in
    # the basis as it is, in the desired rows cleared, and the diff says so.
    assert dict(planned.actual.nats) == {
        nat_uuid: NatColumns(nat_uuid, demo.MEMBER_PORT, MEMBER_FIP_MAC)
    }
    assert dict(planned.desired.nats) == {nat_uuid: NatColumns(nat_uuid, None, None)}
    assert planned.plan.nat_updates == (NatUpdate(nat_uuid, True, True),)
    # Another client changes the MAC between the read and the commit: the basis holds the
    # NAT columns, so the commit is refused (re-read, re-plan) instead of clearing a
    # column whose value it did not read.
    backend.apply_raw(
        [
            {
                "op": "update",
                "table": "NAT",
                "name": MEMBER_FIP_NAT,
                "columns": {"external_mac": "fa:16:3e:00:00:51"},
            }
        ]
    )
    with pytest.raises(TryAgain):
        backend.commit(planned.plan, basis=planned.actual)


def test_member_create_centralises_the_fip_once() -> None:
    backend, driver = _member_fip_nb()
    driver.member_create(MEMBER)
    (row,) = backend.reader().rows("NAT").values()
    assert row.get("logical_port") is None and row.get("external_mac") is None
    # A second pass finds the NAT centralised: nothing to clear, no transaction.
    planned = _member_plan(backend.reader())
    assert planned.plan.nat_updates == ()
    assert dict(planned.actual.nats) == {}
    before = backend.transaction_count()
    driver.member_create(MEMBER)
    assert backend.transaction_count() == before
    assert lb_rowset(backend.reader(), demo.LB).lbs
