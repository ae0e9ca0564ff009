"""Everything about the shape of an Octavia view document (docs/sync.md) lives here.

A view lists Octavia's objects as the API or the CLI prints them: lists of
objects with an ``id`` (optionally wrapped as ``{"pool": {...}}`` or under
``{"pools": [...]}``), related ids as ``[{"id": ..}]`` or ``"id1\\nid2"``, and
members either by pool id or as one list naming ``pool_id``. These readers
are shared by :mod:`ovnlb_core.sync` (strict: a malformed item is a
:class:`~ovnlb_core.errors.SourceFormatError`) and :mod:`ovnlb_core.viewcheck`
(tolerant: malformed items are skipped, the strict reading reports them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ovnlb_core.errors import SourceFormatError

__all__ = ["items", "members_by_pool", "related_ids"]


def _unwrap(obj: Any, singular: str) -> Any:
    if isinstance(obj, Mapping) and len(obj) == 1 and isinstance(obj.get(singular), Mapping):
        return obj[singular]
    return obj


def items(value: Any, key: str, singular: str, *, strict: bool = True) -> list[Mapping[str, Any]]:
    """The objects of the list ``value`` (the document's ``key`` entry), each with a string id."""
    if not value:
        value = []
    if isinstance(value, Mapping) and isinstance(value.get(key), list):
        value = value[key]
    if not isinstance(value, list):
        if strict:
            raise SourceFormatError(f"{key!r} must be a list of objects")
        return []
    out = []
    for i, item in enumerate(value):
        item = _unwrap(item, singular)
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            if strict:
                raise SourceFormatError(f"{key}[{i}] must be an object with an 'id'")
            continue
        out.append(item)
    return out


def related_ids(value: Any) -> list[str]:
    """Related ids as the API (``[{"id": ..}]``) or the CLI (``"id1\\nid2"``) prints them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[\s,]+", value) if v]
    if isinstance(value, Mapping):
        return [str(value["id"])] if "id" in value else []
    out: list[str] = []
    if isinstance(value, list | tuple):
        for v in value:
            out += related_ids(v)
    return out


def members_by_pool(
    doc: Mapping[str, Any], *, strict: bool = True
) -> dict[str, list[Mapping[str, Any]]]:
    """The document's members by pool id (given by pool, or as one list naming ``pool_id``)."""
    raw = doc.get("members") or {}
    out: dict[str, list[Mapping[str, Any]]] = {}
    if isinstance(raw, Mapping):
        for pool_id, members in raw.items():
            out[str(pool_id)] = items(members, "members", "member", strict=strict)
        return out
    for m in items(raw, "members", "member", strict=strict):
        if isinstance(m.get("pool_id"), str):
            out.setdefault(str(m["pool_id"]), []).append(m)
        elif strict:
            raise SourceFormatError(f"member {m['id']} names no 'pool_id'")
    return out
