"""Properties of the pure core (translate, parse, plan)."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from ovnlb_core.model import LoadBalancerState
from ovnlb_core.parse import parse
from ovnlb_core.plan import LbRowSet, apply, diff
from ovnlb_core.translate import translate
from strategies import lb_states, row_sets

LB_UUIDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(4)]
HC_UUIDS = [f"00000000-0000-4000-9000-00000000000{i}" for i in range(4)]


@given(lb_states())
def test_translate_is_deterministic(state: LoadBalancerState) -> None:
    assert translate(state) == translate(state)


@given(lb_states())
def test_parse_inverts_translate(state: LoadBalancerState) -> None:
    assert parse(state.name, translate(state)) == state


@given(lb_states())
def test_plan_of_identical_rows_is_empty(state: LoadBalancerState) -> None:
    rows = translate(state)
    assert diff(rows, rows).is_empty()


@given(row_sets(LB_UUIDS, HC_UUIDS), row_sets(LB_UUIDS, HC_UUIDS))
def test_applying_the_plan_gives_the_desired_rows(a: LbRowSet, b: LbRowSet) -> None:
    assert apply(a, diff(a, b)) == b


@given(lb_states(), lb_states())
def test_plan_between_translated_states(a: LoadBalancerState, b: LoadBalancerState) -> None:
    # A plan concerns the rows of one load balancer: same name.
    ra, rb = translate(a), translate(attrs.evolve(b, name=a.name))
    assert apply(ra, diff(ra, rb)) == rb


@given(st.data())
def test_vips_never_map_to_empty_values(data: st.DataObject) -> None:
    state = data.draw(lb_states())
    for row in translate(state).lbs.values():
        assert all(v for v in row.vips.values())
