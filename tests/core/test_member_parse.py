"""The fast member parser (``octavia._member_fast``) against the field-by-field one.

``Member.from_dict`` checks the usual member shape with regexes and exact type
tests and sends anything else to ``Member._checked``. It must accept and refuse
exactly what ``_checked`` does, with the same Member or the same typed error.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ovnlb_core.errors import InvalidRequestError
from ovnlb_core.formats import IPV4_RE as _IPV4
from ovnlb_core.octavia import Member, _member_fast

MID = "00000000-0000-4000-8000-000000000001"
POOL = "6a8e6b3e-3d7b-4f4b-8f5e-5b0a4c2a8b11"
SUBNET = "c8a1b7a2-1f0e-4d3c-9b8a-7e6d5c4b3a29"


def _ip_ok(text: str) -> bool:
    """What the checked path accepts as a member address (spec: an IP, not scoped)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text


# Dotted-quad look-alikes: leading zeros, values above 255, non-ASCII digits, signs,
# spaces, missing or extra parts.
_octet = st.one_of(
    st.integers(0, 300).map(str),
    st.integers(0, 255).map(lambda i: f"0{i}"),
    st.text(alphabet="0123456789", min_size=0, max_size=4),
    st.text(alphabet="0123456789\u0661\u0967\uff11+- x", min_size=1, max_size=3),
)
_dotted = st.lists(_octet, min_size=1, max_size=6).map(".".join)
_addresses = st.one_of(
    _dotted,
    st.integers(0, 2**32 - 1).map(lambda i: str(ipaddress.IPv4Address(i))),
    st.integers(0, 2**128 - 1).map(lambda i: str(ipaddress.IPv6Address(i))),
    st.text(alphabet="0123456789.:%abcdef/\n ", max_size=20),
)


@settings(max_examples=2000)
@given(_addresses)
@example("1.2.3.4\n")
@example("01.2.3.4")
@example("1.2.3.256")
@example("\u0661.2.3.4")
@example("1.2.3.4/32")
def test_ipv4_regex_accepts_only_what_ipaddress_accepts(text: str) -> None:
    if _IPV4.fullmatch(text):
        assert _ip_ok(text)
        assert ipaddress.ip_address(text).version == 4


@settings(max_examples=500)
@given(st.integers(0, 2**32 - 1))
def test_every_canonical_ipv4_takes_the_regex(value: int) -> None:
    assert _IPV4.fullmatch(str(ipaddress.IPv4Address(value)))


_uuids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.just(""),
    st.just(MID + "\n"),
    st.just(MID[:-1]),
    st.text(max_size=5),
    st.integers(),
    st.none(),
)
_ints = st.one_of(st.integers(-2, 70000), st.booleans(), st.none(), st.just("80"), st.floats(0, 10))
_bools = st.one_of(st.booleans(), st.none(), st.integers(0, 1), st.just("true"))
_absent: Any = object()


def _field(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(_absent), values)


@st.composite
def _member_dicts(draw: st.DrawFn) -> dict[str, Any]:
    fields = {
        "member_id": _field(_uuids),
        "pool_id": _field(_uuids),
        "address": _field(st.one_of(_addresses, st.integers(), st.none())),
        "protocol_port": _field(_ints),
        "subnet_id": _field(_uuids),
        "admin_state_up": _field(_bools),
        "weight": _field(_ints),
        "backup": _field(_bools),
        "monitor_address": _field(st.one_of(st.none(), _addresses)),
        "monitor_port": _field(st.one_of(st.none(), _ints)),
    }
    out = {}
    for name, strategy in fields.items():
        value = draw(strategy)
        if value is not _absent:
            out[name] = value
    return out


def _outcome(fn: Any, data: dict[str, Any]) -> Any:
    try:
        return fn(data)
    except InvalidRequestError as e:
        return (type(e), str(e), e.resource, e.field, e.resource_id)


@st.composite
def _usual_member_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly valid members: one field at a time off the usual shape."""
    data: dict[str, Any] = {
        "member_id": str(draw(st.uuids())),
        "pool_id": POOL,
        "address": str(ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))),
        "protocol_port": draw(st.integers(1, 65535)),
        "subnet_id": SUBNET,
        "admin_state_up": draw(st.booleans()),
    }
    if draw(st.booleans()):
        data["weight"] = draw(st.integers(0, 256))
    if draw(st.booleans()):
        data["backup"] = draw(st.booleans())
    if draw(st.booleans()):
        data["address"] = draw(_dotted)
    if draw(st.booleans()):
        name = draw(st.sampled_from([*sorted(data), "monitor_address", "monitor_port"]))
        data[name] = draw(st.one_of(_uuids, _ints, _bools, _addresses))
    return data


_USUAL = {"member_id": MID, "pool_id": POOL, "protocol_port": 80, "subnet_id": SUBNET}


@settings(max_examples=1500)
@given(st.one_of(_member_dicts(), _usual_member_dicts()))
@example({**_USUAL, "address": "10.0.0.07"})
@example({**_USUAL, "address": "10.0.0.256"})
@example({**_USUAL, "address": "10.0.0.7\n"})
@example({**_USUAL, "address": "10.0.0.7", "weight": True})
@example({**_USUAL, "address": "10.0.0.7", "member_id": MID.upper() + "\n"})
def test_from_dict_is_the_checked_parser(data: dict[str, Any]) -> None:
    assert _outcome(Member.from_dict, data) == _outcome(Member._checked, data)
    fast = _member_fast(data)
    if fast is not None:  # what the fast path accepts, the checked one accepts the same
        assert fast == Member._checked(data)


def test_the_usual_member_takes_the_fast_path() -> None:
    data = {
        "member_id": MID,
        "pool_id": POOL,
        "address": "10.0.0.7",
        "protocol_port": 8080,
        "subnet_id": SUBNET,
        "admin_state_up": True,
    }
    fast = _member_fast(data)
    assert fast == Member(MID, POOL, "10.0.0.7", 8080, SUBNET, True)
    assert Member.from_dict(data) == fast
    # Unusual shapes go to the checked path, whose answer is the same or a typed error.
    assert _member_fast({**data, "address": "fe80::1"}) is None
    assert Member.from_dict({**data, "address": "fe80::1"}).address == "fe80::1"
    assert _member_fast({**data, "address": "010.0.0.7"}) is None
    with pytest.raises(InvalidRequestError, match="is not an IP address"):
        Member.from_dict({**data, "address": "010.0.0.7"})
    with pytest.raises(InvalidRequestError, match="must be an integer"):
        Member.from_dict({**data, "protocol_port": True})
