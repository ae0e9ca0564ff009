"""Everything about listeners lives here: ``listener_create``, ``listener_update``,
``listener_delete``.

A listener is ``listener_<id>[:D] = <port>:[pool_<id>]`` on its protocol's row
(spec 2.2); the health checks of its default pool follow its port
(:func:`~ovnlb_core.requests.healthmonitor.retarget_hcs`).
"""

from __future__ import annotations

import attrs

from ovnlb_core import validate
from ovnlb_core.model import ListenerState, LoadBalancerState
from ovnlb_core.octavia import Listener, Update
from ovnlb_core.requests.common import (
    Context,
    Outcome,
    clean_if_empty,
    lb_active,
    replace_listener,
    require_state,
    row_for,
)
from ovnlb_core.requests.healthmonitor import retarget_hcs, untarget_hcs
from ovnlb_core.status import ACTIVE, DELETED, ERROR, Payload, entry

__all__ = ["listener_create", "listener_delete", "listener_update"]


def listener_create(ctx: Context, state: LoadBalancerState | None, li: Listener) -> Outcome:
    """``listener_create``: ``listener_<id>[:D] = <port>:[pool_<id>]`` on its protocol's row."""
    validate.listener(li)
    lb_id = li.loadbalancer_id or (state.name if state else None)
    state = require_state(state, lb_id)
    state, row = row_for(state, ctx, li.protocol, None)
    new_li = ListenerState(li.id, li.protocol_port, li.default_pool_id, li.admin_state_up)
    state = state.replace(row, replace_listener(row, new_li))
    if li.default_pool_id:
        state = retarget_hcs(state, li.default_pool_id, li.protocol_port)
    operating = "ONLINE" if li.admin_state_up else "OFFLINE"
    report: Payload = {
        "listeners": [entry(li.id, ACTIVE, operating)],
        "loadbalancers": lb_active(state.name),
    }
    return Outcome(state, (report,))


def listener_update(
    ctx: Context, state: LoadBalancerState | None, upd: Update[Listener]
) -> Outcome:
    """``listener_update``: admin state (key form) and default pool.

    Deviations B5 (a removed default pool leaves ``<port>:``) and B14 (health checks of the
    new default pool get the listener's port).
    """
    validate.listener(upd.new)
    li = upd.new
    lb_id = li.loadbalancer_id or (state.name if state else "")
    listener_entry = entry(li.id)
    if "admin_state_up" in upd.changed:
        listener_entry["operating_status"] = "ONLINE" if li.admin_state_up else "OFFLINE"
    pools = []
    if "default_pool_id" in upd.changed and li.default_pool_id:
        pools = [entry(li.default_pool_id)]
    report: Payload = {
        "listeners": [listener_entry],
        "loadbalancers": lb_active(lb_id),
        "pools": pools,
    }
    if not upd.changed & {"admin_state_up", "default_pool_id"}:
        return Outcome(state, (report,))
    row = None
    if state is not None:
        row = state.row_with_listener(li.id) or state.row_for_protocol(li.protocol)
    if state is None or row is None:
        failed: Payload = {
            "listeners": [entry(li.id, ERROR)],
            "loadbalancers": [entry(lb_id, ERROR)],
        }
        return Outcome(state, (failed,))
    current = row.listener(li.id) or ListenerState(li.id, li.protocol_port, None)
    new_li = attrs.evolve(current, enabled=li.admin_state_up)
    if "default_pool_id" in upd.changed:
        new_li = attrs.evolve(new_li, pool_id=li.default_pool_id, pool_ref_disabled=False)
    new_row = replace_listener(row, new_li)
    if current.pool_id and current.pool_id != new_li.pool_id:
        new_row = untarget_hcs(new_row, current.pool_id)
    state = state.replace(row, new_row)
    if "default_pool_id" in upd.changed and li.default_pool_id:
        state = retarget_hcs(state, li.default_pool_id, new_li.port)
    return Outcome(state, (report,))


def listener_delete(ctx: Context, state: LoadBalancerState | None, li: Listener) -> Outcome:
    """``listener_delete``: the key goes (either admin form, deviation B49); empty rows go.

    Deviation B48: the health checks of the listener's pool no longer name its ``vip:port``.
    """
    lb_id = li.loadbalancer_id or (state.name if state else "")
    report: Payload = {
        "listeners": [entry(li.id, DELETED, "OFFLINE")],
        "loadbalancers": lb_active(lb_id),
    }
    row = state.row_with_listener(li.id) if state else None
    if state is None or row is None:
        return Outcome(state, (report,))
    old = row.listener(li.id)
    new_row = attrs.evolve(row, listeners=tuple(x for x in row.listeners if x.id != li.id))
    if old is not None and old.pool_id:
        new_row = untarget_hcs(new_row, old.pool_id)
    state = clean_if_empty(state.replace(row, new_row), new_row)
    return Outcome(state, (report,))
