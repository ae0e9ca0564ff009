"""Hand-corrupted NB rows: ``parse`` names the row and key, never crashes.

With an ``issues`` list, the broken values are reported and left out of the
model, so that re-translating the model (what sync does) writes valid rows.
"""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ovnlb_core.errors import RowParseError
from ovnlb_core.parse import parse
from ovnlb_core.plan import LbRowSet
from ovnlb_core.translate import translate
from strategies import lb_states

LB = "94e7c431-912b-496c-a247-d52875d44ac7"
ROW = "11111111-2222-4333-8444-555555555555"
POOL = "898be8a2-5185-4f3b-8658-a56457f595a9"
MEMBER = "adf55e70-3d50-4e62-99fd-dd77eababb1c"
SUBNET = "8f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b"
GOOD_ENTRY = f"member_{MEMBER}_10.10.10.10:63015_{SUBNET}"


def rowset(external_ids: dict[str, str]) -> LbRowSet:
    from ovnlb_core.plan import LoadBalancerRow

    row = LoadBalancerRow(
        uuid=ROW,
        name=LB,
        protocol="tcp",
        vips={},
        external_ids={"enabled": "True", "neutron:vip": "172.24.4.9", **external_ids},
        selection_fields=("ip_dst", "ip_src", "tp_dst", "tp_src"),
    )
    return LbRowSet(lbs={ROW: row})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        # A member entry cut short (a truncated write or a hand edit).
        (f"pool_{POOL}", f"{GOOD_ENTRY},member_{MEMBER}_10.10.10.1"),
        (f"pool_{POOL}", "member_"),
        ("ls_refs", '{"neutron-ee97665d-69d0-4995-a275-27855359956a": 1'),
        ("ls_refs", '{"neutron-ee97665d-69d0-4995-a275-27855359956a": "one"}'),
        ("ls_refs", "[1, 2]"),
        ("ls_refs", "[" * 100_000 + "]" * 100_000),
        ("neutron:member_status", f'{{"{MEMBER}": 3}}'),
        ("neutron:member_status", "ONLINE"),
        ("octavia:healthmonitors", '{"a": 1}'),
        ("listener_21e77cde-854f-4c3e-bd8c-9536ae0443bc", "64015"),
        ("listener_21e77cde-854f-4c3e-bd8c-9536ae0443bc", "port:pool_x"),
        ("listener_a:b", "80:"),
        ("pool_", GOOD_ENTRY),
    ],
)
def test_broken_value_names_row_and_key(key: str, value: str) -> None:
    rows = rowset({key: value})
    with pytest.raises(RowParseError) as info:
        parse(LB, rows)
    err = info.value
    assert (err.table, err.row, err.column, err.key) == (
        "Load_Balancer",
        f"{LB}/tcp",
        "external_ids",
        key,
    )
    issues: list[RowParseError] = []
    state = parse(LB, rows, issues)
    assert [i.key for i in issues] == [key]
    # The broken value is left out; what remains translates to valid rows again.
    assert key not in translate(state).lbs[ROW].external_ids
    assert parse(LB, translate(state)) == state


def test_unknown_keys_are_kept_verbatim() -> None:
    rows = rowset({"owner": "someone", "x-note": "a,b:c"})
    state = parse(LB, rows)
    assert translate(state).lbs[ROW].external_ids == rows.lbs[ROW].external_ids


corruptions = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", ",", ":", "_", "{", "[", "null", "member_", "pool_", ":D", "1e999"]),
    st.builds(lambda n: "[" * n + "]" * n, st.sampled_from([1, 10, 100_000])),
)


@given(lb_states(), st.data())
def test_any_corrupted_value_is_reported_not_crashing(state: object, data: st.DataObject) -> None:
    rows = translate(state)  # type: ignore[arg-type]
    uuid = data.draw(st.sampled_from(sorted(rows.lbs)))
    row = rows.lbs[uuid]
    key = data.draw(st.sampled_from(sorted(row.external_ids)))
    old = row.external_ids[key]
    how = data.draw(st.sampled_from(["truncate", "replace", "append"]))
    if how == "truncate":
        new = old[: data.draw(st.integers(0, max(0, len(old) - 1)))]
    elif how == "replace":
        new = data.draw(corruptions)
    else:
        new = old + data.draw(corruptions)
    bad = attrs.evolve(row, external_ids={**row.external_ids, key: new})
    rows = attrs.evolve(rows, lbs={**rows.lbs, uuid: bad})
    issues: list[RowParseError] = []
    parsed = parse(state.name, rows, issues)  # type: ignore[attr-defined]
    for issue in issues:
        assert issue.key == key
        assert issue.row.startswith(f"{state.name}/")  # type: ignore[attr-defined]
    # Whatever survived is a model that translates and parses back to itself.
    assert parse(parsed.name, translate(parsed)) == parsed
