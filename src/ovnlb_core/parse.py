"""Everything about reading NB rows back into the model lives here (the reverse of translate).

Reads rows written by ovnlb and by the reference driver alike, with the
grammars of :mod:`ovnlb_core.formats`. A value that breaks the grammar
raises :class:`~ovnlb_core.errors.RowParseError` naming the row and key,
or, when an ``issues`` list is given, is recorded there and left out of
the model (so that a sync rebuilds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ovnlb_core import formats as f
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

if TYPE_CHECKING:
    from ovnlb_core.textcache import RowCache

__all__ = ["parse", "parse_listener", "parse_member_entry", "parse_pool_value", "parse_row"]

_LIST_KEYS = {
    f.KEY_ADD_VIPS: "additional_vips",
    f.KEY_ADD_VIP_PORTS: "additional_vip_port_ids",
    f.KEY_ADD_VIP_FIPS: "additional_vip_fips",
    f.KEY_LR_REF: "lr_ref",
}
_STR_KEYS = {
    f.KEY_VIP: "vip",
    f.KEY_VIP_PORT: "vip_port_id",
    f.KEY_VIP_FIP: "vip_fip",
    f.KEY_ENABLED: "enabled",
}


def parse_member_entry(text: str) -> MemberEntry:
    """``member_<id>_<address>:<port>_<subnet>`` -> :class:`MemberEntry` (ValueError: malformed)."""
    return MemberEntry(*f.parse_member_text(text))


def parse_pool_value(value: str) -> tuple[MemberEntry, ...]:
    """A pool value -> its member entries, in order."""
    return tuple(parse_member_entry(e) for e in f.split_pool_value(value))


def parse_listener(key: str, value: str) -> ListenerState:
    """A listener key and value -> :class:`ListenerState` (ValueError if malformed)."""
    ident, enabled = f.parse_listener_key(key)
    port, pool_id, ref_disabled = f.parse_listener_value(value)
    return ListenerState(ident, port, pool_id, enabled, ref_disabled)


def parse_row(
    row: LoadBalancerRow,
    hcs: Mapping[str, Any],
    switches: frozenset[str],
    routers: frozenset[str],
    issues: list[RowParseError] | None = None,
    *,
    cache: RowCache | None = None,
) -> ProtocolRow:
    """One ``Load_Balancer`` row -> :class:`ProtocolRow`.

    ``cache`` (a :class:`~ovnlb_core.textcache.RowCache`) skips re-parsing
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
                fields[_LIST_KEYS[key]] = f.split_list(value)
            elif key == f.KEY_LS_REFS:
                fields["ls_refs"] = f.parse_ls_refs(value)
            elif key == f.KEY_MEMBER_STATUS:
                known = None if cache is None else cache.parsed_status(row.uuid, value)
                if known is None:
                    known = f.parse_member_status(value)
                    if cache is not None:
                        cache.remember_parsed_status(row.uuid, value, known)
                fields["member_status"] = known
            elif key == f.KEY_HMS:
                fields["healthmonitors"] = f.parse_healthmonitors(value)
            elif key.startswith(f.LISTENER_PREFIX):
                listeners.append(parse_listener(key, value))
            elif key.startswith(f.POOL_PREFIX):
                ident, enabled = f.parse_pool_key(key)
                members = None if cache is None else cache.parsed_pool(ident, value)
                if members is None:
                    members = parse_pool_value(value)
                    if cache is not None:
                        cache.remember_parsed_pool(ident, value, members)
                pools.append(PoolState(ident, enabled, members))
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
    cache: RowCache | None = None,
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
