"""Everything about checking an Octavia view document (docs/sync.md) lives here.

:func:`ovnlb_core.sync.view_from_api` checks the *shape* of a view (lists of
objects with ids); this module checks that its objects *fit together*, as
Octavia's API would have enforced, so that an inconsistent view (a truncated
file, a hand edit, a filtered API answer) gives a clear error instead of
rows that are wrong:

* document level (``fatal``, nothing is usable): an unknown top-level or
  ``neutron`` key (a misspelling would otherwise read as an empty list, so
  the view would ask to delete every load balancer), no ``loadbalancers``
  key at all;
* per load balancer (``errors``, that load balancer is not touched): its id
  listed twice with different contents, listeners or pools it names that the
  view does not hold, a listener whose ``default_pool_id`` is not one of its
  pools or whose protocol differs from its pool's, two listeners on one
  protocol and port (they would share one ``vips`` key), a member whose
  ``subnet_id`` is not in ``neutron.subnets`` (its switch could not be found),
  a pool naming a health monitor the view does not hold;
* harmless oddities (``warnings``): a load balancer listed twice with the
  same contents, listeners, pools, members or health monitors that belong
  to no load balancer of the view (they are ignored).

Pure and tolerant: malformed items are skipped here (the shape checks of
``view_from_api`` report them).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ovnlb_core.viewdoc import items, members_by_pool, related_ids

__all__ = ["NEUTRON_KEYS", "TOP_LEVEL_KEYS", "ViewCheck", "check_view"]

#: Keys a view document may hold (docs/sync.md); ``description`` is free text.
TOP_LEVEL_KEYS = frozenset(
    {
        "format",
        "description",
        "loadbalancers",
        "listeners",
        "pools",
        "members",
        "healthmonitors",
        "neutron",
    }
)
#: Keys of the ``neutron`` object (``floating_ips`` is the SDK's spelling).
NEUTRON_KEYS = frozenset({"subnets", "floatingips", "floating_ips", "ports", "networks"})


@attrs.frozen
class ViewCheck:
    """What :func:`check_view` found."""

    #: Problems that make the whole document unusable.
    fatal: tuple[str, ...] = ()
    #: Per load balancer id: why that load balancer must not be synced.
    errors: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    #: Harmless oddities, for the operator's information.
    warnings: tuple[str, ...] = ()


def _unknown_keys(keys: Iterable[Any], known: frozenset[str], where: str) -> list[str]:
    out = []
    for key in sorted(str(k) for k in keys):
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.append(f"unknown {where} key {key!r}{hint}")
    return out


def _some(ids: list[str], kind: str, what: str) -> str:
    """One warning for many objects (a filtered view can leave thousands)."""
    shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
    return f"{len(ids)} {kind} {what} (ignored): {shown}"


def _proto(obj: Mapping[str, Any]) -> str:
    return str(obj.get("protocol") or "").upper()


def check_view(doc: Mapping[str, Any]) -> ViewCheck:
    """Check that the objects of a view document are consistent (see the module docstring)."""
    if not isinstance(doc, Mapping):
        return ViewCheck(fatal=("Octavia's view must be a JSON object",))
    fatal = _unknown_keys(doc, TOP_LEVEL_KEYS, "top-level")
    neutron = doc.get("neutron")
    if isinstance(neutron, Mapping):
        fatal += _unknown_keys(neutron, NEUTRON_KEYS, "neutron")
    else:
        neutron = {}
    if "loadbalancers" not in doc:
        # Absent is not empty: an empty cloud is written "loadbalancers": [].
        fatal.append("no 'loadbalancers' key (write \"loadbalancers\": [] for none)")
    if fatal:
        return ViewCheck(fatal=tuple(fatal))

    subnet_ids = {s["id"] for s in items(neutron.get("subnets"), "subnets", "subnet", strict=False)}
    all_lbs = items(doc.get("loadbalancers"), "loadbalancers", "loadbalancer", strict=False)
    listeners = {
        li["id"]: li for li in items(doc.get("listeners"), "listeners", "listener", strict=False)
    }
    pools = {p["id"]: p for p in items(doc.get("pools"), "pools", "pool", strict=False)}
    hms = {
        h["id"]: h
        for h in items(doc.get("healthmonitors"), "healthmonitors", "healthmonitor", strict=False)
    }
    members = members_by_pool(doc, strict=False)

    errors: dict[str, list[str]] = {}
    warnings: list[str] = []
    known_lbs = {str(lb["id"]) for lb in all_lbs}
    first: dict[str, Mapping[str, Any]] = {}
    ovn_lbs: list[Mapping[str, Any]] = []
    for lb in all_lbs:
        lb_id = str(lb["id"])
        if lb_id in first:
            if first[lb_id] == lb:
                warnings.append(f"loadbalancer {lb_id} is listed twice (same contents; once used)")
            else:
                errors.setdefault(lb_id, []).append(
                    "listed twice with different contents (which one is Octavia's?)"
                )
            continue
        first[lb_id] = lb
        if lb.get("provider") in (None, "ovn"):
            ovn_lbs.append(lb)

    # Which load balancers each listener and pool belongs to (either side may say so).
    owners: dict[str, set[str]] = {}
    for lb in all_lbs:
        for x in related_ids(lb.get("listeners")) + related_ids(lb.get("pools")):
            owners.setdefault(x, set()).add(str(lb["id"]))
    for obj in (*listeners.values(), *pools.values()):
        for lb_id in related_ids(obj.get("loadbalancers")):
            owners.setdefault(obj["id"], set()).add(lb_id)

    for lb in ovn_lbs:
        lb_id = str(lb["id"])
        problems = errors.setdefault(lb_id, [])
        for li_id in related_ids(lb.get("listeners")):
            if li_id not in listeners:
                problems.append(f"listener {li_id} is listed but not in 'listeners'")
        for pool_id in related_ids(lb.get("pools")):
            if pool_id not in pools:
                problems.append(f"pool {pool_id} is listed but not in 'pools'")
        mine_li = [li for li in listeners.values() if lb_id in owners.get(li["id"], ())]
        mine_pools = {p["id"]: p for p in pools.values() if lb_id in owners.get(p["id"], ())}
        seen_ports: dict[tuple[str, str], str] = {}
        for li in mine_li:
            key = (_proto(li), str(li.get("protocol_port")))
            if key in seen_ports:
                problems.append(
                    f"listeners {seen_ports[key]} and {li['id']} both use {key[0]}:{key[1]}"
                )
            else:
                seen_ports[key] = li["id"]
            default = li.get("default_pool_id")
            if not default:
                continue
            pool = mine_pools.get(str(default))
            if pool is None:
                where = "not in 'pools'" if default not in pools else "of another load balancer"
                problems.append(f"listener {li['id']}: default pool {default} is {where}")
            elif _proto(pool) != _proto(li):
                problems.append(
                    f"listener {li['id']} ({_proto(li)}) uses pool {default} "
                    f"({_proto(pool)}): protocols must match"
                )
        for pool in mine_pools.values():
            for li_id in related_ids(pool.get("listeners")):
                if li_id not in listeners:
                    problems.append(f"pool {pool['id']}: listener {li_id} is not in 'listeners'")
            hm_id = pool.get("healthmonitor_id")
            if hm_id and hm_id not in hms:
                problems.append(
                    f"pool {pool['id']}: health monitor {hm_id} is not in 'healthmonitors'"
                )
            for m in members.get(pool["id"], ()):
                subnet = m.get("subnet_id")
                if subnet and subnet not in subnet_ids:
                    problems.append(
                        f"member {m['id']} of pool {pool['id']}: subnet {subnet} "
                        "is not in neutron.subnets"
                    )

    for kind, objs in (("listeners", listeners), ("pools", pools)):
        lost = [x for x in objs if not owners.get(x, set()) & known_lbs]
        if lost:
            warnings.append(_some(lost, kind, "belong to no load balancer of the view"))
    lost = [p for p in members if p not in pools]
    if lost:
        warnings.append(_some(lost, "member lists", "name no pool of the view"))
    named_hms = {str(p.get("healthmonitor_id")) for p in pools.values()}
    lost = [
        h["id"]
        for h in hms.values()
        if h["id"] not in named_hms and not any(p in pools for p in related_ids(h.get("pools")))
    ]
    if lost:
        warnings.append(_some(lost, "healthmonitors", "belong to no pool of the view"))
    return ViewCheck(
        errors={k: tuple(v) for k, v in errors.items() if v},
        warnings=tuple(warnings),
    )
