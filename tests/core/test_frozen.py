"""Frozen means frozen: row and model values cannot be mutated and can be hashed."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest
from hypothesis import given

from ovnlb_core.frozen import FrozenMap, frozen_map
from ovnlb_core.model import LoadBalancerState, ProtocolRow
from ovnlb_core.plan import HealthCheckRow, LbRowSet, LoadBalancerRow, MapDelta
from ovnlb_core.translate import translate
from strategies import lb_states

MUTATIONS: list[tuple[str, Any]] = [
    ("setitem", lambda m: m.__setitem__("k", "v")),
    ("delitem", lambda m: m.__delitem__("a")),
    ("clear", lambda m: m.clear()),
    ("pop", lambda m: m.pop("a")),
    ("popitem", lambda m: m.popitem()),
    ("setdefault", lambda m: m.setdefault("k", "v")),
    ("update", lambda m: m.update({"k": "v"})),
    ("ior", lambda m: m.__ior__({"k": "v"})),
]


@pytest.mark.parametrize("mutate", [m for _n, m in MUTATIONS], ids=[n for n, _m in MUTATIONS])
def test_every_mutation_is_refused(mutate: Any) -> None:
    m = frozen_map({"a": "1"})
    with pytest.raises(TypeError):
        mutate(m)
    assert m == {"a": "1"}


def test_reads_copies_and_serialisation_behave_like_a_dict() -> None:
    m = frozen_map({"b": "2", "a": "1"})
    assert m == {"a": "1", "b": "2"} and list(m) == ["b", "a"]
    assert json.dumps(m) == '{"b": "2", "a": "1"}'
    assert frozen_map(m) is m
    plain = dict(m)
    plain["c"] = "3"
    assert "c" not in m
    assert pickle.loads(pickle.dumps(m)) == m
    assert type(pickle.loads(pickle.dumps(m))) is FrozenMap
    assert copy.deepcopy(m) is m and copy.copy(m) is m
    assert hash(m) == hash(frozen_map({"a": "1", "b": "2"}))


def test_row_types_hold_frozen_maps() -> None:
    lb = LoadBalancerRow("u", "n", vips={"a": "b"}, external_ids={"k": "v"})
    hc = HealthCheckRow("h", "v", options={"interval": "10"})
    rows = LbRowSet(lbs={"u": lb}, health_checks={"h": hc})
    for m in (lb.vips, lb.external_ids, lb.options, lb.ip_port_mappings, hc.options):
        assert isinstance(m, FrozenMap)
    for m2 in (rows.lbs, rows.health_checks, rows.switches, rows.routers, rows.nats):
        assert isinstance(m2, FrozenMap)
    assert isinstance(MapDelta({"a": "b"}).set, FrozenMap)
    with pytest.raises(TypeError):
        lb.external_ids["k"] = "w"  # type: ignore[index]
    row = ProtocolRow("u", options={"a": "b"})
    for m3 in (row.options, row.ip_port_mappings, row.extra_ids):
        assert isinstance(m3, FrozenMap)
    assert hash(lb) == hash(LoadBalancerRow("u", "n", vips={"a": "b"}, external_ids={"k": "v"}))
    assert {rows, LbRowSet(lbs={"u": lb}, health_checks={"h": hc})} == {rows}


@given(lb_states())
def test_states_and_their_rows_are_hashable(state: LoadBalancerState) -> None:
    rows = translate(state)
    assert hash(state) == hash(LoadBalancerState(state.name, state.rows))
    assert hash(rows) == hash(translate(state))
