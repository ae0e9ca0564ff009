"""RowCache's pool-wide text builders equal MemberEntry's own methods, member by member."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ovnlb_core.model import MemberEntry
from ovnlb_core.textcache import member_backends as _backends_of
from ovnlb_core.textcache import member_texts as _texts
from strategies import members

# Any text in the fields, not only well-formed ids and addresses: the builders
# must agree with the methods whatever the entry holds.
any_members = st.builds(
    MemberEntry, st.text(), st.text(), st.integers(min_value=-(2**70), max_value=2**70), st.text()
)


@given(st.lists(st.one_of(members, any_members), max_size=30))
def test_texts_and_backends_equal_the_methods(entries: list[MemberEntry]) -> None:
    assert _texts(entries) == [m.text() for m in entries]
    assert _backends_of(entries) == [m.backend() for m in entries]


def test_known_values() -> None:
    v4 = MemberEntry("m1", "10.0.0.5", 80, "s1")
    v6 = MemberEntry("m2", "2001:db8::5", 443, "s2")
    assert _texts([v4, v6]) == ["member_m1_10.0.0.5:80_s1", "member_m2_2001:db8::5:443_s2"]
    assert _backends_of([v4]) == ["10.0.0.5:80"]
    assert _backends_of([v4, v6]) == ["10.0.0.5:80", "[2001:db8::5]:443"]
