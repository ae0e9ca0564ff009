"""Everything about the text cache of ``Load_Balancer`` rows lives here (:class:`RowCache`).

A pool's members all live in one ``pool_<id>`` value, one ``vips`` value per
VIP and port, and the ``neutron:member_status`` JSON: at 10k members,
megabytes of text. :class:`RowCache` remembers the last member tuple and
its strings per pool and per row, so that :func:`ovnlb_core.translate.translate`
and :func:`ovnlb_core.parse.parse` cost what changed, with results identical
to the uncached functions. The grammars themselves live in
:mod:`ovnlb_core.formats`.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from itertools import compress, repeat
from typing import Any, TypeVar, cast

from ovnlb_core.formats import (
    ENDPOINT_V4,
    MEMBER_TEXT,
    dumps,
    member_status_text,
    parse_member_text,
    pool_value_known_canonical,
    str_object_text,
)
from ovnlb_core.model import MemberEntry, PoolState, ProtocolRow

__all__ = ["RowCache", "member_backends", "member_texts"]

_T = TypeVar("_T")


def _common_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Length of the longest common prefix (slice comparisons run at C speed)."""
    m = min(len(a), len(b))
    if a[:m] == b[:m]:
        return m
    lo, hi = 0, m  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:  # a[:lo] == b[:lo]: only the rest is compared
            lo = mid
        else:
            hi = mid
    return lo


def _common_suffix(a: Sequence[Any], b: Sequence[Any], limit: int) -> int:
    """Length (at most ``limit``) of the longest common suffix."""
    na, nb = len(a), len(b)
    if limit <= 0:
        return 0
    if a[na - limit :] == b[nb - limit :]:
        return limit
    lo, hi = 0, limit  # the last lo are equal, the last hi are not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[na - mid : na - lo] == b[nb - mid : nb - lo]:  # only what is not known equal
            lo = mid
        else:
            hi = mid
    return lo


def _splice(old: list[_T], p: int, s: int, middle: list[_T]) -> list[_T]:
    return old[:p] + middle + old[len(old) - s :]


class _Memo:
    """A column text and what is known of it: ``canonical`` (the text is what translate
    writes for the value; None: not checked yet) and ``exact`` (parsing the text gives the
    value back; None: unknown)."""

    __slots__ = ("canonical", "exact", "text")

    def __init__(self, text: str, canonical: bool | None, exact: bool | None) -> None:
        self.text = text
        self.canonical = canonical
        self.exact = exact


class _PoolMemo(_Memo):
    """One pool's member tuple and the strings derived from it.

    ``texts[i]`` / ``backends[i]`` belong to ``members[i]``. ``canonical``:
    ``text == ",".join(m.text() for m in members)`` (None: not checked yet);
    ``exact``: ``parse_pool_value(text) == members`` (None: unknown).
    """

    __slots__ = ("backends", "ids", "joined", "members", "texts")

    def __init__(
        self,
        members: tuple[MemberEntry, ...],
        text: str,
        texts: list[str],
        *,
        canonical: bool | None,
        exact: bool | None,
        backends: list[str] | None = None,
    ) -> None:
        super().__init__(text, canonical, exact)
        self.members = members
        self.texts = texts
        self.backends = backends
        self.joined: str | None = None
        #: ``ids[i]`` is ``members[i].id`` (None: not built yet).
        self.ids: list[str] | None = None


class _StatusMemo(_Memo):
    """A ``neutron:member_status`` pair tuple and its JSON text (flags as for pools).

    ``unique``: the pairs are string pairs with distinct keys (None: not checked
    yet); then ``keys`` is the set of keys, and ``items`` (when not None) the
    ``"<key>": "<value>"`` texts of the pairs, which the canonical text joins.
    ``offline`` (with ``keys``): the keys whose status is ``OFFLINE``. ``keys``,
    ``offline`` and ``items`` pass to the memo spliced from this one (which
    replaces it in the cache): this one then drops them.
    """

    __slots__ = ("items", "keys", "offline", "pairs", "unique")

    def __init__(
        self,
        pairs: tuple[tuple[str, str], ...],
        text: str,
        *,
        canonical: bool | None,
        exact: bool | None,
        unique: bool | None = None,
        keys: set[str] | None = None,
        offline: set[str] | None = None,
        items: list[str] | None = None,
    ) -> None:
        super().__init__(text, canonical, exact)
        self.pairs = pairs
        self.unique = unique
        self.keys = keys
        self.offline = offline
        self.items = items


_KEY = operator.itemgetter(0)
_VALUE = operator.itemgetter(1)


def _str_pairs(pairs: Sequence[Any]) -> bool:
    """Every pair a 2-tuple of strings (exact types), checked at C speed."""
    return (
        set(map(type, pairs)) <= {tuple}
        and set(map(len, pairs)) <= {2}
        and set(map(type, map(_KEY, pairs))) <= {str}
        and set(map(type, map(_VALUE, pairs))) <= {str}
    )


def _offline(pairs: Sequence[tuple[str, str]]) -> set[str]:
    """The keys whose value is ``OFFLINE``, at C speed."""
    return set(compress(map(_KEY, pairs), map("OFFLINE".__eq__, map(_VALUE, pairs))))


def _status_item(pair: tuple[str, str]) -> str:
    """One pair as ``dumps`` writes it inside an object."""
    return f"{dumps(pair[0])}: {dumps(pair[1])}"


_MEMBER_ID = operator.attrgetter("id")
_MEMBER_ADDRESS = operator.attrgetter("address")
_MEMBER_PORT = operator.attrgetter("port")
_MEMBER_SUBNET = operator.attrgetter("subnet_id")


def member_texts(members: Sequence[MemberEntry]) -> list[str]:
    """``[m.text() for m in members]``, mapped over the pool at C speed.

    A cold cache (the first request after a restart) builds 10k entries in a few ms.
    """
    return list(
        map(
            MEMBER_TEXT,
            map(_MEMBER_ID, members),
            map(_MEMBER_ADDRESS, members),
            map(_MEMBER_PORT, members),
            map(_MEMBER_SUBNET, members),
        )
    )


def member_backends(members: Sequence[MemberEntry]) -> list[str]:
    """``[m.backend() for m in members]``, at C speed when every member is IPv4."""
    addresses = list(map(_MEMBER_ADDRESS, members))
    if any(map(operator.contains, addresses, repeat(":"))):
        return [m.backend() for m in members]  # some IPv6: bracketed
    return list(map(ENDPOINT_V4, addresses, map(_MEMBER_PORT, members)))


def _holds(memo: _PoolMemo, members: tuple[MemberEntry, ...]) -> bool:
    """The memo is of exactly these members (the same tuple, or an equal one)."""
    return memo.members is members or memo.members == members


class RowCache:
    """Memo of the long strings of ``Load_Balancer`` rows, for :func:`translate` and ``parse``.

    A pool's members all live in one ``pool_<id>`` value, one ``vips`` value
    per VIP and port, and the ``neutron:member_status`` JSON: at 10k members,
    megabytes of text that a request changing one member would rebuild and
    re-parse in full. The cache remembers, per pool and per row, the last
    member tuple and its strings; a new tuple that shares a prefix and a
    suffix with the remembered one (a member appended, removed, replaced)
    gets its strings by splicing, and a row value equal to a remembered one
    is not parsed again.

    Whatever it holds, results are identical to the uncached functions: every
    reuse is checked against the remembered inputs (by value), so a stale,
    foreign or colliding entry only costs a miss. It is an explicit value the
    caller owns (the core keeps no global state); not thread-safe. At most
    ``max_entries`` pools and as many rows are remembered (least recently
    used first out).
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._pools: dict[str, _PoolMemo] = {}
        self._statuses: dict[str, _StatusMemo] = {}
        #: Counters for tests and benchmarks: ``hit``, ``splice``, ``miss`` per kind.
        self.stats: dict[str, int] = {}

    def _count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    def _put(self, table: dict[str, Any], key: str, memo: Any) -> None:
        table.pop(key, None)
        table[key] = memo
        if len(table) > self.max_entries:
            del table[next(iter(table))]

    def clear(self) -> None:
        """Forget everything."""
        self._pools.clear()
        self._statuses.clear()

    # -- pools ---------------------------------------------------------------------

    @staticmethod
    def _pool_canonical(memo: _PoolMemo) -> bool:
        if memo.canonical is None:
            memo.canonical = (
                len(memo.texts) == len(memo.members) and member_texts(memo.members) == memo.texts
            )
        return memo.canonical

    def _pool(self, pool_id: str, members: tuple[MemberEntry, ...]) -> _PoolMemo:
        memo = self._pools.get(pool_id)
        new: _PoolMemo | None = None
        if memo is not None and self._pool_canonical(memo):
            if _holds(memo, members):
                self._count("pool_hit")
                self._put(self._pools, pool_id, memo)
                return memo
            new = self._splice_pool(memo, members)
        if new is None:
            self._count("pool_miss")
            texts = member_texts(members)
            new = _PoolMemo(members, ",".join(texts), texts, canonical=True, exact=None)
        else:
            self._count("pool_splice")
        self._put(self._pools, pool_id, new)
        return new

    @staticmethod
    def _splice_pool(old: _PoolMemo, members: tuple[MemberEntry, ...]) -> _PoolMemo | None:
        o = old.members
        p = _common_prefix(o, members)
        s = _common_suffix(o, members, min(len(o), len(members)) - p)
        middle = members[p : len(members) - s]
        if len(middle) > len(members) // 2 + 8:
            # A batch update (some members out, anywhere; new ones appended)?
            return RowCache._select_pool(old, members)
        mid_texts = member_texts(middle)
        exact = RowCache._still_exact(old, middle, mid_texts)
        texts = _splice(old.texts, p, s, mid_texts)
        backends = None
        if old.backends is not None:
            backends = _splice(old.backends, p, s, member_backends(middle))
        new = _PoolMemo(
            members, ",".join(texts), texts, canonical=True, exact=exact, backends=backends
        )
        if old.ids is not None:
            new.ids = _splice(old.ids, p, s, [m.id for m in middle])
        return new

    @staticmethod
    def _still_exact(
        old: _PoolMemo, new: Sequence[MemberEntry], new_texts: list[str]
    ) -> bool | None:
        """``exact`` of a memo made of ``old``'s entries and ``new`` (with these texts)."""
        if not old.exact:
            return None
        for m, text in zip(new, new_texts, strict=True):
            try:
                if "," in text or MemberEntry(*parse_member_text(text)) != m:
                    return None
            except ValueError:
                return None
        return True

    @staticmethod
    def _select_pool(old: _PoolMemo, members: tuple[MemberEntry, ...]) -> _PoolMemo | None:
        """The memo of ``members`` when they are some of ``old``'s entry objects, in their
        order, then new ones (what ``member_batch_update`` makes): the kept entries' strings
        are picked at C speed, only the new ones are built. None otherwise."""
        o = old.members
        where = dict(zip(map(id, o), range(len(o)), strict=True))
        pos = list(map(where.get, map(id, members)))
        fresh = pos.count(None)
        q = len(pos) - fresh
        if fresh > len(members) // 2 + 8 or pos[q:].count(None) != fresh:
            return None  # mostly new, or an old entry after a new one
        kept = cast("list[int]", pos[:q])  # no None before q
        if kept != sorted(set(kept)):
            return None  # reordered or repeated
        tail = members[q:]
        tail_texts = member_texts(tail)
        pick = old.texts.__getitem__
        texts = [*map(pick, kept), *tail_texts]
        backends = None
        if old.backends is not None:
            backends = [*map(old.backends.__getitem__, kept), *member_backends(tail)]
        new = _PoolMemo(
            members,
            ",".join(texts),
            texts,
            canonical=True,
            exact=RowCache._still_exact(old, tail, tail_texts),
            backends=backends,
        )
        if old.ids is not None:
            new.ids = [*map(old.ids.__getitem__, kept), *(m.id for m in tail)]
        return new

    def known_pool_texts(
        self, pool_id: str, members: tuple[MemberEntry, ...]
    ) -> Sequence[str] | None:
        """``member_texts(members)`` (read only) when ``members`` is the pool's remembered
        tuple (what ``parse`` gave back); else None."""
        memo = self._pools.get(pool_id)
        if memo is not None and _holds(memo, members) and self._pool_canonical(memo):
            self._count("texts_hit")
            return memo.texts
        return None

    def pool_text(self, pool_id: str, members: tuple[MemberEntry, ...]) -> str:
        """``",".join(m.text() for m in members)``."""
        return self._pool(pool_id, members).text

    def parsed_pool(self, pool_id: str, value: str) -> tuple[MemberEntry, ...] | None:
        """What ``parse_pool_value(value)`` returns, when it is known; else None."""
        memo = self._pools.get(pool_id)
        if memo is not None and memo.exact and (memo.text is value or memo.text == value):
            self._count("parse_pool_hit")
            return memo.members
        return None

    def remember_parsed_pool(
        self, pool_id: str, value: str, members: tuple[MemberEntry, ...]
    ) -> None:
        """Record that ``parse_pool_value(value) == members``."""
        self._count("parse_pool_miss")
        texts = value.split(",") if value else []
        if len(texts) != len(members):  # cannot happen for a value that parsed
            return
        # A value written by translate (every value ovnlb wrote) is known canonical at
        # C speed; anything else is compared entry by entry when first spliced.
        canonical = True if pool_value_known_canonical(value) else None
        self._put(
            self._pools, pool_id, _PoolMemo(members, value, texts, canonical=canonical, exact=True)
        )

    def backends(self, row: ProtocolRow, pool: PoolState) -> tuple[str, str]:
        """The ``vips`` values (IPv4, IPv6) of ``pool``'s members in ``row`` (spec 1.4)."""
        memo = self._pool(pool.id, pool.members)
        if memo.backends is None:
            memo.backends = member_backends(memo.members)
        smemo = None if row.member_status is None else self._status(row.uuid, row.member_status)
        if memo.joined is None:
            memo.joined = ",".join(memo.backends)
        if "[" not in memo.joined:  # no member is IPv6
            if smemo is None or '"OFFLINE"' not in smemo.text:
                # No member is OFFLINE: every member counts.
                return memo.joined, ""
            if smemo.offline is not None and len(smemo.offline) <= 8:
                # A few members are OFFLINE (distinct status keys): all but those.
                if memo.ids is None:
                    memo.ids = list(map(_MEMBER_ID, memo.members))
                ids = memo.ids
                out: list[int] = []
                for mid in smemo.offline:
                    i = -1
                    try:
                        while True:
                            i = ids.index(mid, i + 1)
                            out.append(i)
                    except ValueError:
                        pass
                if not out:
                    return memo.joined, ""
                kept = list(memo.backends)
                for i in sorted(out, reverse=True):
                    del kept[i]
                return ",".join(kept), ""
        # Some member is OFFLINE or IPv6: the same selection as ``_backends``,
        # member by member, but iterated at C speed (no Python loop per member).
        statuses = row.statuses()
        keep = list(
            map(operator.ne, map(statuses.get, map(_MEMBER_ID, memo.members)), repeat("OFFLINE"))
        )
        six = list(map(operator.contains, map(_MEMBER_ADDRESS, memo.members), repeat(":")))
        if not any(six):
            return ",".join(compress(memo.backends, keep)), ""
        v4 = compress(memo.backends, map(operator.gt, keep, six))  # kept and not IPv6
        v6 = compress(memo.backends, map(operator.and_, keep, six))
        return ",".join(v4), ",".join(v6)

    # -- member statuses -----------------------------------------------------------

    @staticmethod
    def _status_canonical(memo: _StatusMemo) -> bool:
        if memo.canonical is None:
            memo.canonical = memo.text == member_status_text(memo.pairs)
        return memo.canonical

    def status_text(self, key: str, pairs: tuple[tuple[str, str], ...]) -> str:
        """``dumps(dict(pairs))`` (``key``: the row's UUID)."""
        return self._status(key, pairs).text

    def _status(self, key: str, pairs: tuple[tuple[str, str], ...]) -> _StatusMemo:
        memo = self._statuses.get(key)
        if memo is not None and self._status_canonical(memo):
            if memo.pairs is pairs or memo.pairs == pairs:
                self._count("status_hit")
                self._put(self._statuses, key, memo)
                return memo
            new = self._splice_statuses(memo, pairs)
            if new is None:
                new = self._append_statuses(memo, pairs)
            if new is None:
                new = self._select_statuses(memo, pairs)
            if new is not None:
                self._count("status_splice")
                self._put(self._statuses, key, new)
                return new
        self._count("status_miss")
        as_dict = dict(pairs)
        exact = len(as_dict) == len(pairs) and _str_pairs(pairs)
        new = _StatusMemo(pairs, str_object_text(as_dict), canonical=True, exact=exact or None)
        if exact:
            new.unique = True
            new.keys = set(as_dict)
            new.offline = _offline(pairs)
        self._put(self._statuses, key, new)
        return new

    @staticmethod
    def _splice_statuses(
        old: _StatusMemo, pairs: tuple[tuple[str, str], ...]
    ) -> _StatusMemo | None:
        """Pairs replaced, removed or inserted anywhere, all keys distinct before and after.

        With distinct keys ``dumps(dict(pairs))`` is the pairs' items joined in
        order, so the text is the old items with the changed ones spliced in.
        """
        o = old.pairs
        if old.unique is None:
            old.unique = _str_pairs(o) and len(set(map(_KEY, o))) == len(o)
        if not old.unique:
            return None
        if old.keys is None or old.offline is None:
            old.keys = set(map(_KEY, o))
            old.offline = _offline(o)
        p = _common_prefix(o, pairs)
        s = _common_suffix(o, pairs, min(len(o), len(pairs)) - p)
        middle = pairs[p : len(pairs) - s]
        if len(middle) > len(pairs) // 2 + 8 or not _str_pairs(middle):
            return None
        gone = {k for k, _ in o[p : len(o) - s]}  # distinct: ``o`` has distinct keys
        new_keys = [k for k, _ in middle]
        if len(set(new_keys)) != len(new_keys):
            return None
        keys = old.keys
        if any(k in keys and k not in gone for k in new_keys):
            return None  # a key twice in ``pairs``
        items = _splice(RowCache._status_items(old), p, s, [_status_item(kv) for kv in middle])
        keys -= gone
        keys.update(new_keys)
        offline = old.offline
        offline -= gone
        offline.update(k for k, v in middle if v == "OFFLINE")
        old.keys = old.offline = old.items = old.unique = None
        return _StatusMemo(
            pairs,
            "{" + ", ".join(items) + "}",
            canonical=True,
            exact=old.exact,
            unique=True,
            keys=keys,
            offline=offline,
            items=items,
        )

    @staticmethod
    def _status_items(old: _StatusMemo) -> list[str]:
        """``old.items``, built from its canonical text when not yet known (unique pairs)."""
        if old.items is None:
            o = old.pairs
            text = old.text  # canonical: ``{`` + the items joined by ``, `` + ``}``
            if not o:
                old.items = []
            elif text.count(", ") == len(o) - 1:
                # No item holds ", " (an item starts and ends with a quote): a split
                # at every ", " gives exactly the items.
                old.items = text[1:-1].split(", ")
            else:
                old.items = [_status_item(kv) for kv in o]
        return old.items

    @staticmethod
    def _select_statuses(
        old: _StatusMemo, pairs: tuple[tuple[str, str], ...]
    ) -> _StatusMemo | None:
        """The memo of ``pairs`` when they are some of ``old``'s pairs (by value), in their
        order, then new ones, all keys distinct (what ``member_batch_update`` makes): the
        kept pairs' items are picked at C speed, only the new ones are built. None
        otherwise."""
        o = old.pairs
        if old.unique is None:
            old.unique = _str_pairs(o) and len(set(map(_KEY, o))) == len(o)
        if not old.unique or not _str_pairs(pairs):
            return None
        keys = set(map(_KEY, pairs))
        if len(keys) != len(pairs):
            return None
        where = dict(zip(o, range(len(o)), strict=True))
        pos = list(map(where.get, pairs))
        fresh = pos.count(None)
        q = len(pos) - fresh
        if fresh > len(pairs) // 2 + 8 or pos[q:].count(None) != fresh:
            return None  # mostly new, or an old pair after a new one
        kept = cast("list[int]", pos[:q])
        if not all(map(operator.lt, kept, kept[1:])):
            return None  # reordered
        items = [*map(RowCache._status_items(old).__getitem__, kept)]
        items += map(_status_item, pairs[q:])
        return _StatusMemo(
            pairs,
            "{" + ", ".join(items) + "}",
            canonical=True,
            exact=old.exact,
            unique=True,
            keys=keys,
            offline=_offline(pairs),
            items=items,
        )

    @staticmethod
    def _append_statuses(
        old: _StatusMemo, pairs: tuple[tuple[str, str], ...]
    ) -> _StatusMemo | None:
        """Distinct new keys appended to pairs that may repeat keys."""
        n0 = len(old.pairs)
        if len(pairs) <= n0 or pairs[:n0] != old.pairs:
            return None
        extra = pairs[n0:]
        if not _str_pairs(extra):
            return None
        old_keys = {k for k, _ in old.pairs}
        new_keys = [k for k, _ in extra]
        if len(set(new_keys)) != len(new_keys) or not old_keys.isdisjoint(new_keys):
            return None
        tail = dumps(dict(extra))
        text = tail if old.text == "{}" else old.text[:-1] + ", " + tail[1:]
        return _StatusMemo(pairs, text, canonical=True, exact=old.exact)

    def parsed_status(self, key: str, value: str) -> tuple[tuple[str, str], ...] | None:
        """The parsed ``neutron:member_status`` pairs of ``value``, when known; else None."""
        memo = self._statuses.get(key)
        if memo is not None and memo.exact and (memo.text is value or memo.text == value):
            self._count("parse_status_hit")
            return memo.pairs
        return None

    def remember_parsed_status(
        self, key: str, value: str, pairs: tuple[tuple[str, str], ...]
    ) -> None:
        """Record that ``value`` parses to ``pairs``."""
        self._count("parse_status_miss")
        self._put(self._statuses, key, _StatusMemo(pairs, value, canonical=None, exact=True))
