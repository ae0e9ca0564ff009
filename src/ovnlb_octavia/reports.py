"""The status reports the provider pushes: everything about what Octavia is told lives here.

One report per request (:func:`last_wins`, :func:`only_members`); after a
failure, ERROR for the request's objects and ACTIVE for the parents Octavia
set ``PENDING_UPDATE`` (:func:`failed_under_pool`, :func:`failed_create`), so
no object stays PENDING. The reports travel through octavia-lib's
``DriverLibrary`` (:func:`driver_library`), retried by the runtime's status
thread (:meth:`~ovnlb_octavia.runtime.Runtime.push`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ovnlb_core import octavia as oc
from ovnlb_core.status import ACTIVE, DELETED, ERROR, Payload, entry
from ovnlb_octavia.runtime import Runtime, StatusSink

log = logging.getLogger(__name__)

__all__ = [
    "driver_library",
    "failed_create",
    "failed_under_pool",
    "last_wins",
    "only_members",
    "pool_parents",
]


def last_wins(payload: Payload) -> Payload:
    """One entry per object: the last report of it (later steps saw the finished state)."""
    out: Payload = {}
    for kind, entries in payload.items():
        by_id: dict[str, dict[str, Any]] = {}
        for e in entries:
            by_id[e["id"]] = {**by_id.get(e["id"], {}), **e}
        out[kind] = list(by_id.values())
    return out


def only_members(payload: Payload, ids: Iterable[str]) -> Payload:
    """The report without the roll-up's entries for members the request did not touch.

    The reference reports every member of the pool on a member create (spec
    5.3); Octavia applies each entry in its own transaction, so on a pool of
    1000 members one create costs 1000 database updates of statuses that did
    not change. Members the request named and members it deleted stay.
    """
    wanted = set(ids)
    out = dict(payload)
    if "members" in out:
        out["members"] = [
            e
            for e in out["members"]
            if e["id"] in wanted or e.get("provisioning_status") == DELETED
        ]
    return out


def pool_parents(runtime: Runtime, pool_id: str | None, lb_id: str | None) -> Payload:
    """ACTIVE for the pool, its listener and LB (Octavia set them PENDING_UPDATE)."""
    out: Payload = {"loadbalancers": [], "listeners": [], "pools": []}
    info: Mapping[str, Any] = {}
    if pool_id:
        try:
            info = runtime.sink().get_pool(pool_id) or {}
        except Exception:
            log.exception("reading pool %s from Octavia", pool_id)
        out["pools"].append(entry(pool_id, ACTIVE))
    if info.get("listener_id"):
        out["listeners"].append(entry(str(info["listener_id"]), ACTIVE))
    lb = lb_id or info.get("loadbalancer_id")
    if lb:
        out["loadbalancers"].append(entry(str(lb), ACTIVE))
    return out


def failed_under_pool(
    runtime: Runtime, pool_id: str, lb_id: str | None, kind: str, ids: Iterable[str]
) -> Payload:
    """ERROR for the ``kind`` objects ``ids`` (the pool, its members or its health
    monitor), ACTIVE for the pool's parents (:func:`pool_parents`)."""
    out = pool_parents(runtime, pool_id, lb_id)
    out[kind] = [entry(i, ERROR) for i in ids]
    return out


def failed_create(lb: oc.LoadBalancer) -> Payload:
    """ERROR for a (fully populated) load balancer create: the LB and all it holds."""
    out: Payload = {"loadbalancers": [entry(lb.id, ERROR)]}
    out["listeners"] = [entry(li.id, ERROR) for li in lb.listeners]
    out["pools"] = [entry(p.id, ERROR) for p in lb.pools]
    out["members"] = [entry(m.id, ERROR) for p in lb.pools for m in p.members]
    out["healthmonitors"] = [entry(p.healthmonitor.id, ERROR) for p in lb.pools if p.healthmonitor]
    return {k: v for k, v in out.items() if v}


def driver_library(conf: Any) -> StatusSink:
    """octavia-lib's DriverLibrary on the sockets of Octavia's ``[driver_agent]`` section."""
    from octavia_lib.api.drivers import driver_lib

    kwargs: dict[str, str] = {}
    group = getattr(conf, "driver_agent", None)
    for key, opt in (
        ("status_socket", "status_socket_path"),
        ("stats_socket", "stats_socket_path"),
        ("get_socket", "get_socket_path"),
    ):
        value = getattr(group, opt, None) if group is not None else None
        if value:
            kwargs[key] = value
    lib: StatusSink = driver_lib.DriverLibrary(**kwargs)
    return lib
