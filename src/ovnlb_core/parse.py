"""NB rows -> model (the reverse of :mod:`ovnlb_core.translate`).

Reads rows written by ovnlb and by the reference driver alike. A value that
breaks the grammar raises :class:`~ovnlb_core.errors.RowParseError` naming the
row and key, or, when an ``issues`` list is given, is recorded there and
left out of the model (so that a sync rebuilds it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ovnlb_core import translate as t
from ovnlb_core.errors import RowParseError
from ovnlb_core.model import (
    PROTOCOLS,
    ListenerState,
    LoadBalancerState,
    MemberEntry,
    PoolState,
    ProtocolRow,
)
from ovnlb_core.plan import LbRowSet, LoadBalancerRow

_LIST_KEYS = {
    t.KEY_ADD_VIPS: "additional_vips",
    t.KEY_ADD_VIP_PORTS: "additional_vip_port_ids",
    t.KEY_ADD_VIP_FIPS: "additional_vip_fips",
    t.KEY_LR_REF: "lr_ref",
}
_STR_KEYS = {
    t.KEY_VIP: "vip",
    t.KEY_VIP_PORT: "vip_port_id",
    t.KEY_VIP_FIP: "vip_fip",
    t.KEY_ENABLED: "enabled",
}


def parse_member_entry(text: str) -> MemberEntry:
    """``member_<id>_<address>:<port>_<subnet>`` -> :class:`MemberEntry` (ValueError: malformed)."""
    parts = text.split("_")
    if len(parts) != 4 or parts[0] != "member":
        raise ValueError(f"member entry {text!r} is not member_<id>_<address>:<port>_<subnet>")
    address, sep, port = parts[2].rpartition(":")
    if not sep or not address or not port.isdigit() or not parts[1]:
        raise ValueError(f"member entry {text!r} has no <address>:<port>")
    return MemberEntry(parts[1], address, int(port), parts[3])


def parse_pool_value(value: str) -> tuple[MemberEntry, ...]:
    """A pool value -> its member entries, in order."""
    if not value:
        return ()
    return tuple(parse_member_entry(e) for e in value.split(","))


def parse_listener(key: str, value: str) -> ListenerState:
    """A listener key and value -> :class:`ListenerState` (ValueError if malformed)."""
    ident, disabled = _split_key(key, "listener_")
    fields = value.split(":")
    if len(fields) not in (2, 3) or not fields[0].isdigit():
        raise ValueError(f"listener value {value!r} is not <port>:[pool_<id>]")
    pool_part = fields[1]
    ref_disabled = False
    if len(fields) == 3:
        if fields[2] != "D" or not pool_part:
            raise ValueError(f"listener value {value!r} is not <port>:[pool_<id>]")
        ref_disabled = True
    pool_id: str | None = None
    if pool_part:
        if not pool_part.startswith("pool_") or len(pool_part) == len("pool_"):
            raise ValueError(f"listener value {value!r} names no pool")
        pool_id = pool_part[len("pool_") :]
    return ListenerState(ident, int(fields[0]), pool_id, not disabled, ref_disabled)


def _split_key(key: str, prefix: str) -> tuple[str, bool]:
    rest = key[len(prefix) :]
    disabled = rest.endswith(":D")
    ident = rest[:-2] if disabled else rest
    if not ident or ":" in ident:
        raise ValueError(f"key {key!r} is not {prefix}<id>[:D]")
    return ident, disabled


def _json_pairs(value: str) -> list[tuple[str, Any]]:
    data = json.loads(value, object_pairs_hook=lambda pairs: pairs)
    if not isinstance(data, list) or any(not isinstance(p, tuple) for p in data):
        raise ValueError(f"{value!r} is not a JSON object")
    return data


def parse_row(
    row: LoadBalancerRow,
    hcs: Mapping[str, Any],
    switches: frozenset[str],
    routers: frozenset[str],
    issues: list[RowParseError] | None = None,
    *,
    cache: t.RowCache | None = None,
) -> ProtocolRow:
    """One ``Load_Balancer`` row -> :class:`ProtocolRow`.

    ``cache`` (a :class:`~ovnlb_core.translate.RowCache`) skips re-parsing
    pool and member-status values it has seen; the result is the same.
    """
    fields: dict[str, Any] = {"enabled": None}
    listeners: list[ListenerState] = []
    pools: list[PoolState] = []
    extra: dict[str, str] = {}

    def problem(key: str, reason: str) -> None:
        err = RowParseError(
            "Load_Balancer", f"{row.name}/{row.protocol or 'none'}", "external_ids", key, reason
        )
        if issues is None:
            raise err
        issues.append(err)

    for key in sorted(row.external_ids):
        value = row.external_ids[key]
        try:
            if key in _STR_KEYS:
                fields[_STR_KEYS[key]] = value
            elif key in _LIST_KEYS:
                fields[_LIST_KEYS[key]] = tuple(value.split(","))
            elif key == t.KEY_LS_REFS:
                pairs = _json_pairs(value)
                if any(not isinstance(v, int) or isinstance(v, bool) for _, v in pairs):
                    raise ValueError(f"{value!r} has a count that is not an integer")
                # A count says how many reasons the LB has to be on the switch (spec 1.7):
                # the provider deletes the key at zero, so only positive counts are valid.
                # A foreign writer's -3 or 0 would otherwise be spread (a member delete
                # dropping the switch early), not refused.
                if any(v < 1 for _, v in pairs):
                    raise ValueError(f"{value!r} has a count that is not a positive integer")
                fields["ls_refs"] = tuple(pairs)
            elif key == t.KEY_MEMBER_STATUS:
                known = None if cache is None else cache.parsed_status(row.uuid, value)
                if known is None:
                    pairs = _json_pairs(value)
                    if any(not isinstance(v, str) for _, v in pairs):
                        raise ValueError(f"{value!r} has a status that is not a string")
                    known = tuple(pairs)
                    if cache is not None:
                        cache.remember_parsed_status(row.uuid, value, known)
                fields["member_status"] = known
            elif key == t.KEY_HMS:
                hms = json.loads(value)
                if not isinstance(hms, list) or any(not isinstance(h, str) for h in hms):
                    raise ValueError(f"{value!r} is not a JSON list of strings")
                fields["healthmonitors"] = tuple(hms)
            elif key.startswith("listener_"):
                listeners.append(parse_listener(key, value))
            elif key.startswith("pool_"):
                ident, disabled = _split_key(key, "pool_")
                members = None if cache is None else cache.parsed_pool(ident, value)
                if members is None:
                    members = parse_pool_value(value)
                    if cache is not None:
                        cache.remember_parsed_pool(ident, value, members)
                pools.append(PoolState(ident, not disabled, members))
            else:
                extra[key] = value
        except (ValueError, RecursionError) as exc:
            # RecursionError: json.loads on deeply nested brackets (a hostile value).
            problem(key, str(exc) if isinstance(exc, ValueError) else "JSON nested too deeply")
    protocol = row.protocol if row.protocol in PROTOCOLS else None
    return ProtocolRow(
        uuid=row.uuid,
        protocol=protocol,
        listeners=tuple(listeners),
        pools=tuple(pools),
        selection_fields=row.selection_fields,
        options=row.options,
        ip_port_mappings=row.ip_port_mappings,
        health_checks=tuple(hcs[u] for u in sorted(row.health_check) if u in hcs),
        switches=switches,
        routers=routers,
        extra_ids=extra,
        **fields,
    )


def parse(
    name: str,
    rows: LbRowSet,
    issues: list[RowParseError] | None = None,
    *,
    cache: t.RowCache | None = None,
) -> LoadBalancerState:
    """All rows of one Octavia load balancer -> :class:`LoadBalancerState`.

    ``cache``: see :func:`parse_row` (same result with or without it).

    Rows are ordered by protocol (the protocol-less row first) so that the
    model does not depend on server UUIDs.
    """
    parsed = [
        parse_row(
            r,
            rows.health_checks,
            frozenset(rows.switches.get(u, ())),
            frozenset(rows.routers.get(u, ())),
            issues,
            cache=cache,
        )
        for u, r in rows.lbs.items()
        if r.name == name
    ]
    parsed.sort(key=lambda r: (r.protocol or "", r.uuid))
    return LoadBalancerState(name, tuple(parsed))
