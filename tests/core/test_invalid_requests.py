"""Invalid and hostile requests: a typed error, and nothing written."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_core.dump import canonical_dump
from ovnlb_core.errors import ValidationError

GOOD_MEMBER: dict[str, Any] = {
    "member_id": "bdf55e70-3d50-4e62-99fd-dd77eababb1c",
    "pool_id": demo.POOL,
    "address": "10.10.10.20",
    "protocol_port": 80,
    "subnet_id": demo.MEMBER_SUBNET,
    "admin_state_up": True,
}

VALID_WORDS = {"SOURCE_IP", "SOURCE_IP_PORT", "TCP", "UDP", "SCTP"}


def _valid_looking(text: str) -> bool:
    """Text that is a valid id, address or keyword (Hypothesis mines such constants from the
    code under test, so plain text strategies do produce them)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    return (
        text in VALID_WORDS
        or re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", text) is not None
    )


hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "a_b", "a:b", "a,b", 'a"b', "a\nb", "member_x_1.1.1.1:80_y"]),
    st.builds(lambda s, c: s + c, st.uuids().map(str), st.sampled_from('_:,"\n ')),
).filter(lambda t: not _valid_looking(t))
bad_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), hostile_text, st.lists(st.integers())
)
bad_member = st.one_of(
    st.builds(lambda v: {**GOOD_MEMBER, "member_id": v}, bad_values),
    st.builds(lambda v: {**GOOD_MEMBER, "address": v}, bad_values),
    st.builds(
        lambda v: {**GOOD_MEMBER, "protocol_port": v},
        st.one_of(st.integers(max_value=0), st.integers(min_value=65536), hostile_text),
    ),
    st.builds(lambda v: {**GOOD_MEMBER, "subnet_id": v}, hostile_text.filter(bool)),
    st.builds(lambda v: {**GOOD_MEMBER, "admin_state_up": v}, st.integers()),
    st.builds(lambda v: {**GOOD_MEMBER, "address": v}, st.ip_addresses(v=6).map(str)),
    st.builds(lambda v: {**GOOD_MEMBER, "monitor_port": v}, st.integers(1, 65535)),
)
bad_listener = st.one_of(
    st.builds(
        lambda p: {
            "listener_id": demo.LISTENER,
            "loadbalancer_id": demo.LB,
            "protocol": p,
            "protocol_port": 80,
        },
        st.sampled_from(["HTTP", "HTTPS", "TERMINATED_HTTPS", "PROXY", "PROXYV2", "PROMETHEUS"]),
    ),
    st.builds(
        lambda port: {
            "listener_id": demo.LISTENER,
            "loadbalancer_id": demo.LB,
            "protocol": "TCP",
            "protocol_port": port,
        },
        st.one_of(st.integers(max_value=0), st.integers(min_value=65536)),
    ),
)
bad_pool = st.builds(
    lambda alg: {
        "pool_id": demo.POOL,
        "loadbalancer_id": demo.LB,
        "protocol": "TCP",
        "lb_algorithm": alg,
    },
    st.one_of(st.sampled_from(["ROUND_ROBIN", "LEAST_CONNECTIONS"]), hostile_text),
)


def _ready() -> OvnLbDriver:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS)
    for _title, step in demo.steps()[:3]:
        step(driver)
    return driver


@given(
    st.one_of(
        st.tuples(st.just("member_create"), bad_member),
        st.tuples(st.just("listener_create"), bad_listener),
        st.tuples(st.just("pool_create"), bad_pool),
    )
)
def test_invalid_requests_raise_typed_errors_and_write_nothing(case: tuple[str, Any]) -> None:
    op, body = case
    driver = _ready()
    before = canonical_dump(driver.backend.reader())
    count = driver.backend.transaction_count()
    try:
        getattr(driver, op)(body)
    except ValidationError as exc:
        assert exc.resource and exc.field and exc.reason
    else:
        raise AssertionError(f"{op} accepted {body!r}")
    assert canonical_dump(driver.backend.reader()) == before
    assert driver.backend.transaction_count() == count
