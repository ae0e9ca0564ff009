"""ovnlb_core.viewcheck: consistency of an Octavia view document (pure; hostile input too)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ovnlb_core.sync import SourceFormatError, view_from_api
from ovnlb_core.viewcheck import check_view
from paths import ROOT

EXAMPLE = json.loads((ROOT / "examples" / "octavia-view.json").read_text())
LB1 = EXAMPLE["loadbalancers"][0]["id"]


def test_the_example_view_is_consistent() -> None:
    result = check_view(EXAMPLE)
    assert (result.fatal, dict(result.errors), result.warnings) == ((), {}, ())


def test_a_view_with_no_loadbalancers_key_is_not_an_empty_view() -> None:
    doc = {k: v for k, v in EXAMPLE.items() if k != "loadbalancers"}
    assert check_view(doc).fatal == (
        "no 'loadbalancers' key (write \"loadbalancers\": [] for none)",
    )
    with pytest.raises(SourceFormatError, match="no 'loadbalancers' key"):
        view_from_api(doc)
    empty = {**doc, "loadbalancers": []}
    assert view_from_api(empty)[0] == []


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("loadbalancer", "loadbalancers"),
        ("listners", "listeners"),
        ("health_monitors", "healthmonitors"),
        ("zzz", None),
    ],
)
def test_unknown_top_level_keys_are_fatal(key: str, hint: str | None) -> None:
    doc = {**EXAMPLE, key: []}
    (msg,) = check_view(doc).fatal
    assert msg.startswith(f"unknown top-level key {key!r}")
    assert (f"did you mean {hint!r}?" in msg) if hint else ("did you mean" not in msg)


def test_unknown_neutron_keys_are_fatal() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["neutron"]["subnet"] = doc["neutron"].pop("subnets")
    assert check_view(doc).fatal == ("unknown neutron key 'subnet' (did you mean 'subnets'?)",)


def test_errors_reach_the_desired_load_balancer() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["listeners"][0]["default_pool_id"] = doc["pools"][1]["id"]  # TCP -> UDP pool
    (lb,), _ = view_from_api(doc)
    (problem,) = lb.problems
    assert "protocols must match" in problem


def test_a_duplicated_id_is_used_once() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["loadbalancers"].append(copy.deepcopy(doc["loadbalancers"][0]))
    lbs, _ = view_from_api(doc)
    assert [lb.id for lb in lbs] == [LB1] and lbs[0].problems == ()
    doc["loadbalancers"][1]["vip_address"] = "10.0.0.99"
    lbs, _ = view_from_api(doc)
    assert [lb.id for lb in lbs] == [LB1]
    assert lbs[0].problems == ("listed twice with different contents (which one is Octavia's?)",)


def test_default_pool_of_another_load_balancer() -> None:
    doc = copy.deepcopy(EXAMPLE)
    other = {
        **copy.deepcopy(doc["loadbalancers"][0]),
        "id": "0" * 8 + "-0000-4000-8000-" + "0" * 12,
    }
    other["listeners"], other["pools"] = [], [{"id": "p-other"}]
    doc["loadbalancers"].append(other)
    doc["pools"].append(
        {"id": "p-other", "protocol": "TCP", "loadbalancers": [{"id": other["id"]}]}
    )
    doc["listeners"][0]["default_pool_id"] = "p-other"
    errors = check_view(doc).errors
    assert errors[LB1] == (
        f"listener {doc['listeners'][0]['id']}: default pool p-other is of another load balancer",
    )
    assert other["id"] not in errors


def test_a_health_monitor_named_by_a_pool_must_exist() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["healthmonitors"] = []
    pool = next(p for p in doc["pools"] if p.get("healthmonitor_id"))
    assert check_view(doc).errors[LB1] == (
        f"pool {pool['id']}: health monitor {pool['healthmonitor_id']} is not in 'healthmonitors'",
    )


# -- hostile input ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    ["loadbalancers", "listeners", "pools", "members", "healthmonitors", "neutron", "format"]
)


@given(st.dictionaries(keys, json_values, max_size=7))
def test_check_view_never_raises_on_any_json(doc: dict[str, Any]) -> None:
    result = check_view(doc)
    assert isinstance(result.fatal, tuple) and isinstance(result.warnings, tuple)


@given(st.data())
def test_removing_a_listed_object_is_always_an_error_of_its_load_balancer(data: Any) -> None:
    doc = copy.deepcopy(EXAMPLE)
    kind = data.draw(st.sampled_from(["listeners", "pools"]))
    i = data.draw(st.integers(0, len(doc[kind]) - 1))
    gone = doc[kind].pop(i)
    problems = check_view(doc).errors[LB1]
    assert any(gone["id"] in p for p in problems)
    (lb,), _ = view_from_api(doc)
    assert lb.problems == problems


@given(st.permutations(range(3)))
def test_listener_order_does_not_matter(order: list[int]) -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["listeners"] = [doc["listeners"][i] for i in order]
    assert check_view(doc).errors == {}
    doc["listeners"][0]["protocol_port"] = 1
    doc["listeners"][1]["protocol_port"] = 1
    doc["listeners"][1]["protocol"] = doc["listeners"][0]["protocol"]
    problems = check_view(doc).errors[LB1]
    first, second = doc["listeners"][0]["id"], doc["listeners"][1]["id"]
    proto = doc["listeners"][0]["protocol"]
    assert f"listeners {first} and {second} both use {proto}:1" in problems
    # The second listener now also has a pool of another protocol.
    assert len(problems) == 2 and "protocols must match" in problems[1]
