"""Everything about converting between canonical values and ovs Datum lives here.

:func:`canonical` reads a replica Datum in the canonical form of
:mod:`ovnlb_core.nb`; :func:`to_python` turns a canonical value into what
the ovs IDL accepts, type-checked (the IDL would log and drop a wrong type).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ovnlb_backends.base import BackendError
from ovnlb_core.nb import Column

__all__ = ["canonical", "scalar_of", "to_python"]


def canonical(datum: Any, spec: Column) -> Any:
    """A Datum in the canonical form of :mod:`ovnlb_core.nb`."""
    values = datum.values
    if spec.kind == "map":
        return {k.value: v.value for k, v in values.items()}
    if spec.atom == "uuid":
        items: list[Any] = sorted(str(k.value) for k in values)
    elif spec.kind == "set":
        items = sorted(k.value for k in values)
    else:
        items = [k.value for k in values]
    if spec.kind == "set":
        return tuple(items)
    if spec.kind == "optional":
        return items[0] if items else None
    return items[0] if items else spec.default()


_ATOM_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "uuid": (str, uuidlib.UUID),
}


def _atom_to_python(spec: Column, value: Any, where: str) -> Any:
    if not isinstance(value, _ATOM_TYPES[spec.atom]) or (
        spec.atom == "integer" and isinstance(value, bool)
    ):
        raise BackendError(f"{where}: {value!r} is not a {spec.atom}")
    if spec.atom == "uuid":
        try:
            return uuidlib.UUID(str(value))
        except ValueError:
            raise BackendError(f"{where}: {value!r} is not a UUID") from None
    return value


def to_python(spec: Column, value: Any, where: str) -> Any:
    """A canonical value as the ovs IDL wants it, type-checked.

    The IDL logs and silently drops a value of the wrong type, then commits
    the rest; checking here turns that into an error.
    """
    if spec.kind == "map":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise BackendError(f"{where}: expected a map of strings, got {value!r}")
        return dict(value)
    if spec.kind == "set":
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset):
            raise BackendError(f"{where}: expected a set, got {value!r}")
        return [_atom_to_python(spec, v, where) for v in value]
    if spec.kind == "optional":
        return [] if value is None else [_atom_to_python(spec, value, where)]
    return _atom_to_python(spec, value, where)


def scalar_of(datum: Any) -> Any:
    for atom in datum.values:
        return atom.value
    return None
