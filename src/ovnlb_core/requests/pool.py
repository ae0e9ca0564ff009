"""Everything about pools lives here: ``pool_create``, ``pool_update``, ``pool_delete``.

A pool is ``pool_<id>[:D] = <members>`` on its protocol's row (spec 4.1), the
listener's reference to it, the row's hashing (``selection_fields``) and
session persistence (``options:affinity_timeout``).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ovnlb_core import validate
from ovnlb_core.formats import AFFINITY
from ovnlb_core.model import SELECTION_FIELDS, LoadBalancerState, PoolState
from ovnlb_core.octavia import Pool, Update
from ovnlb_core.plan import NatUpdate
from ovnlb_core.requests.common import (
    Context,
    Outcome,
    clean_if_empty,
    lb_active,
    replace_listener,
    replace_pool,
    require_state,
    row_for,
)
from ovnlb_core.requests.healthmonitor import hm_delete
from ovnlb_core.requests.member import members_delete
from ovnlb_core.status import ACTIVE, DELETED, ERROR, Payload, entry

__all__ = ["pool_create", "pool_delete", "pool_update"]


def _affinity(options: Mapping[str, str], pool: Pool) -> dict[str, str]:
    out = dict(options)
    sp = pool.session_persistence
    if sp is not None and sp.timeout:
        out[AFFINITY] = str(sp.timeout)
    return out


def pool_create(ctx: Context, state: LoadBalancerState | None, pool: Pool) -> Outcome:
    """``pool_create``: ``pool_<id>[:D] = ""``, the listener's reference, hashing and affinity.

    Deviations B3/B4: the listener always names the pool in its plain form, whatever the
    admin state of either.
    """
    validate.pool(pool)
    lb_id = pool.loadbalancer_id or (state.name if state else None)
    state = require_state(state, lb_id)
    state, row = row_for(state, ctx, pool.protocol, pool.lb_algorithm)
    existing = row.pool(pool.id)
    members = existing.members if existing else ()
    new_row = replace_pool(row, PoolState(pool.id, pool.admin_state_up, members))
    if pool.listener_id:
        li = new_row.listener(pool.listener_id)
        if li is not None and (li.pool_id != pool.id or li.pool_ref_disabled):
            new_row = replace_listener(
                new_row, attrs.evolve(li, pool_id=pool.id, pool_ref_disabled=False)
            )
    new_row = attrs.evolve(
        new_row,
        options=_affinity(new_row.options, pool),
        selection_fields=SELECTION_FIELDS[pool.lb_algorithm],
    )
    state = state.replace(row, new_row)
    report: Payload = {
        "pools": [entry(pool.id, ACTIVE, "ONLINE" if pool.listener_id else "OFFLINE")],
        "loadbalancers": lb_active(state.name),
    }
    if pool.listener_id:
        report["listeners"] = [entry(pool.listener_id)]
    return Outcome(state, (report,))


def pool_update(ctx: Context, state: LoadBalancerState | None, upd: Update[Pool]) -> Outcome:
    """``pool_update``: admin state (key form), session persistence and algorithm.

    Deviations B6 (persistence alone is reported ACTIVE), B7 (removing persistence removes
    ``affinity_timeout``; a null timeout writes nothing), B9 (the algorithm is applied).
    """
    validate.pool(upd.new)
    pool = upd.new
    lb_id = pool.loadbalancer_id or (state.name if state else "")
    row = state.row_with_pool(pool.id) if state else None
    if state is None or row is None:
        return Outcome(
            state, ({"pools": [entry(pool.id, ERROR)], "loadbalancers": [entry(lb_id, ERROR)]},)
        )
    current = row.pool(pool.id)
    assert current is not None
    new_row = replace_pool(row, attrs.evolve(current, enabled=pool.admin_state_up))
    if "session_persistence" in upd.changed:
        options = dict(new_row.options)
        options.pop(AFFINITY, None)
        new_row = attrs.evolve(new_row, options=_affinity(options, pool))
    if "lb_algorithm" in upd.changed:
        new_row = attrs.evolve(new_row, selection_fields=SELECTION_FIELDS[pool.lb_algorithm])
    state = state.replace(row, new_row)
    if not upd.changed & {"admin_state_up", "session_persistence"}:
        return Outcome(state, ({"pools": [entry(pool.id)], "loadbalancers": lb_active(lb_id)},))
    operating = "ONLINE" if pool.admin_state_up else "OFFLINE"
    listeners = [entry(li.id) for li in new_row.listeners if li.pool_id == pool.id]
    report: Payload = {
        "pools": [entry(pool.id, ACTIVE, operating)],
        "loadbalancers": lb_active(lb_id),
        "listeners": listeners,
    }
    return Outcome(state, (report,))


def pool_delete(ctx: Context, state: LoadBalancerState | None, pool: Pool) -> Outcome:
    """``pool_delete``: its health monitor and members first, then the pool.

    As the reference's driver queues them (spec A.2): the monitor's payload, then **one**
    ``member_delete`` payload for all the pool's members (the row's roll-up after all are
    removed, ``members`` listing each ``DELETED``), then the pool's payload.

    Deviation B10: ``affinity_timeout`` stays while another pool of the row keeps session
    persistence in Octavia's view. Deviation B51: a disabled pool's key going counts for the
    empty-row clean-up like an enabled one's.
    """
    reports: list[Payload] = []
    nats: list[NatUpdate] = []
    if pool.healthmonitor is not None:
        out = hm_delete(ctx, state, pool.healthmonitor)
        state = out.state
        reports += out.statuses
    if pool.members:
        out = members_delete(
            ctx, state, pool.id, [attrs.evolve(m, pool_id=pool.id) for m in pool.members]
        )
        state = out.state
        reports += out.statuses
        nats += out.nat_updates
    lb_id = pool.loadbalancer_id or (state.name if state else "")
    row = state.row_with_pool(pool.id) if state else None
    if state is None or row is None:
        reports.append(
            {
                "pools": [entry(pool.id, DELETED)],
                "loadbalancers": lb_active(lb_id),
                "listeners": [],
            }
        )
        return Outcome(state, tuple(reports), tuple(nats))
    listeners = []
    new_listeners = []
    for li in row.listeners:
        if li.pool_id == pool.id:
            listeners.append(entry(li.id))
            li = attrs.evolve(li, pool_id=None, pool_ref_disabled=False)
        new_listeners.append(li)
    options = dict(row.options)
    keep = any(
        p.id != pool.id and (ctx.view.pools.get(p.id) or {}).get("session_persistence")
        for p in row.pools
    )
    if not keep:
        options.pop(AFFINITY, None)
    new_row = attrs.evolve(
        row,
        pools=tuple(p for p in row.pools if p.id != pool.id),
        listeners=tuple(new_listeners),
        options=options,
    )
    state = clean_if_empty(state.replace(row, new_row), new_row)
    reports.append(
        {
            "pools": [entry(pool.id, DELETED)],
            "loadbalancers": lb_active(lb_id),
            "listeners": listeners,
        }
    )
    return Outcome(state, tuple(reports), tuple(nats))
