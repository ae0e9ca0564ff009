"""Everything about read-only values lives here: :class:`FrozenMap` and its converter.

The ``@attrs.frozen`` row and model types (:mod:`ovnlb_core.plan`,
:mod:`ovnlb_core.model`) hold their map columns as :class:`FrozenMap`, so a
row cannot be changed after it is built and rows can be hashed, compared and
shared between the cache, the plan and the backends without defensive copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn, TypeVar

__all__ = ["FrozenMap", "frozen_map"]

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(dict[K, V]):
    """A ``dict`` that cannot be changed after construction, and so can be hashed.

    A ``dict`` subclass rather than a wrapper: reads (``[]``, ``get``, ``in``,
    iteration, ``json.dumps``, ``==`` with a plain dict) run at the speed of a
    dict, and building one from a dict is one C-level copy. Every mutating
    method raises :class:`TypeError`; ``dict(m)`` or ``{**m}`` gives a
    mutable copy. The hash (of the items) is computed once, on first use.
    """

    __slots__ = ("_hash",)

    def _readonly(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only")

    __setitem__ = _readonly
    __delitem__ = _readonly
    __ior__ = _readonly
    clear = _readonly
    pop = _readonly
    popitem = _readonly
    setdefault = _readonly
    update = _readonly

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            self._hash: int = hash(frozenset(self.items()))
            return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({dict.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle/copy would otherwise rebuild it with __setitem__.
        return (type(self), (dict(self),))

    def __copy__(self) -> FrozenMap[K, V]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenMap[K, V]:
        return self


def frozen_map(value: Mapping[K, V] | Iterable[tuple[K, V]]) -> FrozenMap[K, V]:
    """``value`` as a :class:`FrozenMap` (returned as is when it already is one: no copy)."""
    if type(value) is FrozenMap:
        return value
    return FrozenMap(value)
