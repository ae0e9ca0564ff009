"""The NB text grammars of :mod:`ovnlb_core.formats`.

Two kinds of test: properties (``parse(write(x)) == x`` over generated
values, for every grammar) and examples copied from the specification
(../shared/docs/reference-behavior.md, sections 1.2-1.5, 4.2, 4.3), not from
the code's output.
"""

from __future__ import annotations

import ipaddress
import json
import uuid as uuidlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ovnlb_core import formats as f

# -- strategies ----------------------------------------------------------------------------

uuids = st.uuids().map(str)
#: Ids as other writers may make them: no ``_``, ``:`` or ``,`` (the grammars' separators).
loose_ids = st.text(st.characters(codec="utf-8", exclude_characters="_:,"), min_size=1)
ids = uuids | loose_ids
ports = st.integers(min_value=0, max_value=65535)
addresses = st.ip_addresses().map(str)
json_text = st.text(st.characters(codec="utf-8"))


def distinct_pairs(values: st.SearchStrategy[object]) -> st.SearchStrategy[tuple[object, ...]]:
    return st.lists(st.tuples(json_text, values), unique_by=lambda p: p[0]).map(tuple)


# -- properties: parse(write(x)) == x -----------------------------------------------------


@given(ids, st.booleans())
def test_listener_key_round_trip(ident: str, enabled: bool) -> None:
    assert f.parse_listener_key(f.listener_key(ident, enabled)) == (ident, enabled)


@given(ports, st.none() | ids, st.booleans())
def test_listener_value_round_trip(port: int, pool_id: str | None, ref_disabled: bool) -> None:
    ref_disabled = ref_disabled and pool_id is not None  # no pool: nothing to mark
    value = f.listener_value(port, pool_id, ref_disabled)
    assert f.parse_listener_value(value) == (port, pool_id, ref_disabled)


@given(ids, st.booleans())
def test_pool_key_round_trip(ident: str, enabled: bool) -> None:
    assert f.parse_pool_key(f.pool_key(ident, enabled)) == (ident, enabled)


members = st.tuples(
    uuids | loose_ids,
    addresses,
    ports,
    st.sampled_from(["", "None"]) | uuids,
)


@given(members)
def test_member_text_round_trip(member: tuple[str, str, int, str]) -> None:
    text = f.member_text(*member)
    assert f.parse_member_text(text) == member
    assert f.MEMBER_TEXT(*member) == text


@given(st.lists(members))
def test_pool_value_round_trip(entries: list[tuple[str, str, int, str]]) -> None:
    texts = [f.member_text(*m) for m in entries]
    assert f.split_pool_value(f.pool_value(texts)) == texts
    assert [f.parse_member_text(t) for t in f.split_pool_value(f.pool_value(texts))] == entries


@given(st.lists(ids, min_size=1).map(tuple))
def test_comma_list_round_trip(items: tuple[str, ...]) -> None:
    assert f.split_list(f.join_list(items)) == items


@given(distinct_pairs(st.integers(min_value=1, max_value=2**40)))
def test_ls_refs_round_trip(pairs: tuple[tuple[str, int], ...]) -> None:
    assert f.parse_ls_refs(f.ls_refs_text(pairs)) == pairs


@given(
    st.dictionaries(
        json_text | st.text(alphabet='ab"\\\x7f\x1f\u00e9 :,{}', max_size=4),
        json_text | st.sampled_from(["ONLINE", "OFFLINE", "ERROR", "NO_MONITOR"]),
    )
)
@example({"a\x7f": "ONLINE"})
@example({"a": "b\x1f"})
@example({'"': "ONLINE", "b": "\\"})
@settings(max_examples=200)
def test_str_object_text_is_json_dumps(items: dict[str, str]) -> None:
    assert f.str_object_text(items) == json.dumps(items)


@given(distinct_pairs(json_text))
def test_member_status_round_trip(pairs: tuple[tuple[str, str], ...]) -> None:
    assert f.parse_member_status(f.member_status_text(pairs)) == pairs


@given(st.lists(json_text).map(tuple))
def test_healthmonitors_round_trip(hms: tuple[str, ...]) -> None:
    assert f.parse_healthmonitors(f.healthmonitors_text(hms)) == hms


@given(st.booleans())
def test_enabled_round_trip(admin: bool) -> None:
    assert f.is_disabled(f.enabled_text(admin)) is (not admin)


@given(addresses, ports)
def test_endpoint_round_trip(address: str, port: int) -> None:
    assert f.split_endpoint(f.endpoint(address, port)) == (address, port)
    assert f.unbracket(f.bracket(address)) == address
    assert f.ip_version(address) == ipaddress.ip_address(address).version


@given(addresses, st.none() | st.integers(min_value=1, max_value=65535))
def test_health_check_vip_round_trip(address: str, port: int | None) -> None:
    vip = f.health_check_vip(address, port)
    if port is None:
        assert vip == ""
    else:
        assert f.split_endpoint(vip) == (address, port)
        assert f.health_check_host(vip) == f.bracket(address)


@given(
    st.fixed_dictionaries(
        {
            field: st.none() | st.integers(min_value=0, max_value=2**31 - 1)
            for field, _ in f.HC_OPTIONS
        }
    )
)
def test_health_check_options_round_trip(fields: dict[str, int | None]) -> None:
    options = f.health_check_options(fields)
    assert f.parse_health_check_options(options) == {
        k: v for k, v in fields.items() if v is not None
    }


@given(ids, st.booleans())
def test_hc_pool_round_trip(ident: str, enabled: bool) -> None:
    # octavia:pool_id is the pool key minus its prefix (spec 4.2).
    value = f.pool_key(ident, enabled).removeprefix(f.POOL_PREFIX)
    assert f.parse_hc_pool(value) == ident


@given(uuids, addresses, addresses)
def test_mapping_round_trip(lsp: str, member_ip: str, source_ip: str) -> None:
    assert f.unbracket(f.mapping_key(member_ip)) == member_ip
    assert f.parse_mapping_value(f.mapping_value(lsp, source_ip)) == (lsp, source_ip)


@given(st.lists(st.text(), max_size=4))
def test_row_uuid_is_a_deterministic_lower_case_uuid(parts: list[str]) -> None:
    u = f.row_uuid(*parts)
    assert u == f.row_uuid(*parts)
    assert f.is_uuid(u) and f.is_lower_uuid(u)
    assert str(uuidlib.UUID(u)) == u


@given(st.uuids())
def test_uuid_pattern(u: uuidlib.UUID) -> None:
    assert f.is_uuid(str(u)) and f.is_uuid(str(u).upper())
    assert f.is_lower_uuid(str(u)) and not f.is_lower_uuid(str(u).upper())
    assert not f.is_uuid(str(u)[:-1]) and not f.is_uuid(f" {u}")


@given(st.ip_addresses(v=4).map(str))
def test_ipv4_pattern_accepts_dotted_quads(address: str) -> None:
    assert f.IPV4_RE.fullmatch(address)


@given(st.text(alphabet="0123456789.", max_size=16))
def test_ipv4_pattern_accepts_only_what_ipaddress_accepts(text: str) -> None:
    if f.IPV4_RE.fullmatch(text):
        assert str(ipaddress.IPv4Address(text)) == text


# -- examples from the specification ------------------------------------------------------

LB = "0d6d4b3e-1f2a-4c5b-9e8d-7a6b5c4d3e2f"
M = "d2a8c9b6-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
SUB = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        # spec 1.3: IPv6 addresses appear raw, not bracketed; the port is after the last ':'.
        (f"member_{M}_2001:db8::3:1010_{SUB}", (M, "2001:db8::3", 1010, SUB)),
        (f"member_{M}_192.168.2.149:1010_{SUB}", (M, "192.168.2.149", 1010, SUB)),
        # spec 1.3: a dict member without subnet_id ends in '_'; subnet_id None writes 'None'.
        (f"member_{M}_10.0.0.1:80_", (M, "10.0.0.1", 80, "")),
        (f"member_{M}_10.0.0.1:80_None", (M, "10.0.0.1", 80, "None")),
    ],
)
def test_member_entries_of_the_spec(text: str, parsed: tuple[str, str, int, str]) -> None:
    assert f.parse_member_text(text) == parsed
    assert f.member_text(*parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        f"member_{M}_10.0.0.1:80",  # legacy 3-field entry (bug B38)
        f"member_{M}_10.0.0.1_{SUB}",  # no port
        f"pool_{M}_10.0.0.1:80_{SUB}",
    ],
)
def test_malformed_member_entries(text: str) -> None:
    with pytest.raises(ValueError):
        f.parse_member_text(text)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("80:", (80, None, False)),  # listener without a default pool
        (f"80:pool_{M}", (80, M, False)),
        (f"80:pool_{M}:D", (80, M, True)),  # pool_create of a disabled pool (B3)
    ],
)
def test_listener_values_of_the_spec(value: str, parsed: tuple[int, str | None, bool]) -> None:
    assert f.parse_listener_value(value) == parsed
    assert f.listener_value(*parsed) == value


@pytest.mark.parametrize(
    ("key", "parsed"),
    [(f"listener_{M}", (M, True)), (f"listener_{M}:D", (M, False))],
)
def test_listener_keys_of_the_spec(key: str, parsed: tuple[str, bool]) -> None:
    assert f.parse_listener_key(key) == parsed
    assert f.listener_key(*parsed) == key


def test_pool_keys_of_the_spec() -> None:
    assert f.pool_key(M) == f"pool_{M}"
    assert f.pool_key(M, enabled=False) == f"pool_{M}:D"
    assert f.parse_pool_key(f"pool_{M}:D") == (M, False)


def test_pool_value_of_the_spec() -> None:
    # spec 1.3: "" or member entries joined by ',' with no spaces.
    assert f.pool_value([]) == ""
    assert f.split_pool_value("") == []
    a, b = f"member_{M}_10.0.0.1:80_{SUB}", f"member_{LB}_10.0.0.2:80_{SUB}"
    assert f.pool_value([a, b]) == f"{a},{b}"


def test_json_values_of_the_spec() -> None:
    # spec 1.2, 1.7: json.dumps default separators, insertion order.
    refs = (("neutron-vipnet", 4), ("neutron-X", 1))
    assert f.ls_refs_text(refs) == '{"neutron-vipnet": 4, "neutron-X": 1}'
    assert f.parse_ls_refs('{"neutron-vipnet": 4, "neutron-X": 1}') == refs
    assert f.healthmonitors_text([M]) == f'["{M}"]'
    status = ((M, "ONLINE"), (LB, "OFFLINE"))
    assert f.member_status_text(status) == f'{{"{M}": "ONLINE", "{LB}": "OFFLINE"}}'


@pytest.mark.parametrize("bad", ['{"neutron-x": 0}', '{"neutron-x": -3}', '{"neutron-x": true}'])
def test_ls_refs_counts_are_positive_integers(bad: str) -> None:
    # spec 1.7: the provider deletes a key at zero.
    with pytest.raises(ValueError):
        f.parse_ls_refs(bad)


def test_plain_values_of_the_spec() -> None:
    # spec 1.2: enabled is str() of the admin state; lists joined with ',' and no spaces.
    assert (f.enabled_text(True), f.enabled_text(False)) == ("True", "False")
    assert f.join_list(["neutron-r1", "neutron-r2"]) == "neutron-r1,neutron-r2"
    assert f.split_list("172.26.21.20,fc00::5") == ("172.26.21.20", "fc00::5")


def test_selection_fields_of_the_spec() -> None:
    # spec 1.5: read back sorted.
    assert f.SELECTION_FIELDS["SOURCE_IP_PORT"] == ("ip_dst", "ip_src", "tp_dst", "tp_src")
    assert f.SELECTION_FIELDS["SOURCE_IP"] == ("ip_dst", "ip_src")
    assert f.SELECTION_FIELDS[None] == ("ip_dst", "ip_src", "tp_dst", "tp_src")


@pytest.mark.parametrize(
    ("address", "port", "text"),
    [
        # spec 1.4 examples (TH:2539-2552, TH:5440-5452).
        ("10.22.33.4", 80, "10.22.33.4:80"),
        ("192.168.2.149", 1010, "192.168.2.149:1010"),
        ("fc00::", 80, "[fc00::]:80"),
        ("2001:db8::1", 1010, "[2001:db8::1]:1010"),
    ],
)
def test_endpoints_of_the_spec(address: str, port: int, text: str) -> None:
    assert f.endpoint(address, port) == text
    assert f.split_endpoint(text) == (address, port)


def test_health_checks_of_the_spec() -> None:
    # spec 4.2: vip "<ip>:<port>", "[<ipv6>]:<port>", or "" without a listener port.
    assert f.health_check_vip("10.0.0.5", 80) == "10.0.0.5:80"
    assert f.health_check_vip("fc00::5", 80) == "[fc00::5]:80"
    assert f.health_check_vip("10.0.0.5", None) == ""
    fields = {"delay": 10, "timeout": 5, "max_retries": 3, "max_retries_down": 2}
    assert f.health_check_options(fields) == {
        "interval": "10",
        "timeout": "5",
        "success_count": "3",
        "failure_count": "2",
    }
    assert (f.HC_HM, f.HC_POOL, f.HC_VIP) == (
        "octavia:healthmonitor",
        "octavia:pool_id",
        "octavia:vip",
    )
    # octavia:pool_id keeps a trailing :D when the pool is disabled.
    assert f.parse_hc_pool(f"{M}:D") == M


def test_ip_port_mappings_of_the_spec() -> None:
    # spec 4.3: "<member-ip>" -> "<member-LSP-name>:<hm-source-ip>"; IPv6 bracketed.
    assert f.mapping_key("10.0.0.7") == "10.0.0.7"
    assert f.mapping_value(M, "10.0.0.2") == f"{M}:10.0.0.2"
    assert f.mapping_key("2001:db8::7") == "[2001:db8::7]"
    assert f.mapping_value(M, "2001:db8::2") == f"{M}:[2001:db8::2]"
    assert f.parse_mapping_value(f"{M}:[2001:db8::2]") == (M, "2001:db8::2")


def test_keys_of_the_spec() -> None:
    # spec 1.2, the complete list.
    assert [
        f.KEY_ENABLED,
        f.KEY_VIP,
        f.KEY_VIP_PORT,
        f.KEY_ADD_VIPS,
        f.KEY_ADD_VIP_PORTS,
        f.KEY_VIP_FIP,
        f.KEY_ADD_VIP_FIPS,
        f.KEY_LR_REF,
        f.KEY_LS_REFS,
        f.KEY_MEMBER_STATUS,
        f.KEY_HMS,
    ] == [
        "enabled",
        "neutron:vip",
        "neutron:vip_port_id",
        "neutron:additional_vips",
        "neutron:additional_vip_port_ids",
        "neutron:vip_fip",
        "neutron:additional_vip_fips",
        "lr_ref",
        "ls_refs",
        "neutron:member_status",
        "octavia:healthmonitors",
    ]


#: Member entries near the grammar: valid parts but the port (leading zeros, digits
#: str.isdigit accepts that are not ASCII) and the id and subnet (':0' and digits).
_PORT_TEXTS = ("80", "0", "0080", "00", "8080", "\u0663", "\u00b2", "1\u0663")
near_members = st.builds(
    "member_{}_{}:{}_{}".format,
    st.sampled_from(["m1", "m:01", M]),
    st.sampled_from(["10.0.0.1", "2001:db8::1", "fe80::0:1", "2001:db8:0:1::5"]),
    st.sampled_from(_PORT_TEXTS),
    st.sampled_from(["s1", "", "None", "s:07", SUB]),
)


@given(st.lists(near_members | members.map(lambda m: f.member_text(*m)), max_size=5))
def test_pool_value_known_canonical_is_never_wrong(entries: list[str]) -> None:
    value = f.pool_value(entries)
    try:
        parsed = [f.parse_member_text(e) for e in f.split_pool_value(value)]
    except ValueError:
        return  # only values that parse are asked about
    rewritten = f.pool_value(f.member_text(*m) for m in parsed)
    if f.pool_value_known_canonical(value):
        assert rewritten == value


#: Members as Octavia gives them: UUIDs, addresses as ``ipaddress`` writes them.
octavia_members = st.tuples(uuids, addresses, ports, st.sampled_from(["", "None"]) | uuids)


@given(st.lists(octavia_members))
def test_pool_values_of_octavia_members_are_known_canonical(
    entries: list[tuple[str, str, int, str]],
) -> None:
    assert f.pool_value_known_canonical(f.pool_value(f.member_text(*m) for m in entries))
