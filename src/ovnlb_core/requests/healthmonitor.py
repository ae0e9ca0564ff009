"""Everything about health monitors lives here: their requests and health checks.

``health_monitor_create/update/delete`` (spec 4.2, 4.3): one
``Load_Balancer_Health_Check`` per VIP and floating IP, the members'
``ip_port_mappings`` and statuses; where a pool's checks point when its
listener changes (:func:`retarget_hcs`, :func:`untarget_hcs`); and the SB
``Service_Monitor`` verdicts on members (:func:`member_health`, spec 4.4).
"""

from __future__ import annotations

import attrs

from ovnlb_core import validate
from ovnlb_core.formats import (
    HC_HM,
    HC_OPTIONS,
    HC_POOL,
    HC_VIP,
    endpoint,
    health_check_host,
    health_check_options,
    health_check_vip,
    mapping_key,
    mapping_value,
    parse_hc_pool,
    row_uuid,
)
from ovnlb_core.model import LoadBalancerState, ProtocolRow
from ovnlb_core.octavia import HealthMonitor, Update
from ovnlb_core.plan import HealthCheckRow
from ovnlb_core.requests.common import Context, Outcome, lb_active
from ovnlb_core.requests.draft import RowDraft
from ovnlb_core.status import ACTIVE, DELETED, ERROR, Payload, entry, rollup
from ovnlb_core.translate import vip_list

__all__ = [
    "hc_pool_id",
    "hm_create",
    "hm_delete",
    "hm_update",
    "member_health",
    "pool_port",
    "retarget_hcs",
    "untarget_hcs",
]


# -- where a pool's health checks point --------------------------------------------------------


def _hc_vip_with_port(hc: HealthCheckRow, port: int) -> str:
    """The health check's vip moved to ``port`` (deviation B11: IPv6 keeps its brackets)."""
    if hc.vip:
        return f"{health_check_host(hc.vip)}:{port}"
    return endpoint(hc.external_ids.get(HC_VIP, ""), port)


def hc_pool_id(hc: HealthCheckRow) -> str:
    """The id of the pool a health check watches (its admin-state suffix dropped)."""
    return parse_hc_pool(hc.external_ids.get(HC_POOL, ""))


def retarget_hcs(state: LoadBalancerState, pool_id: str, port: int) -> LoadBalancerState:
    """Every health check of the pool moved to ``port`` (a listener now names the pool)."""
    for row in state.rows:
        if not any(hc_pool_id(h) == pool_id for h in row.health_checks):
            continue
        hcs = tuple(
            attrs.evolve(h, vip=_hc_vip_with_port(h, port)) if hc_pool_id(h) == pool_id else h
            for h in row.health_checks
        )
        state = state.replace(row, attrs.evolve(row, health_checks=hcs))
    return state


def pool_port(row: ProtocolRow, pool_id: str) -> int | None:
    """The port of the first listener of the row naming the pool (spec 4.2), else None."""
    return next((li.port for li in row.listeners if li.pool_id == pool_id), None)


def untarget_hcs(row: ProtocolRow, pool_id: str) -> ProtocolRow:
    """Deviation B48: once a listener no longer names ``pool_id``, the pool's health checks
    follow the row's remaining listener of the pool, or get ``vip=""`` when none is left
    (what ``hm_create`` writes for a pool without listener, spec 4.2)."""
    port = pool_port(row, pool_id)
    hcs = tuple(
        attrs.evolve(h, vip=_hc_vip_with_port(h, port) if port is not None else "")
        if hc_pool_id(h) == pool_id
        else h
        for h in row.health_checks
    )
    return row if hcs == row.health_checks else attrs.evolve(row, health_checks=hcs)


# -- requests ------------------------------------------------------------------------------------


def _hm_options(hm: HealthMonitor) -> dict[str, str]:
    return health_check_options({field: getattr(hm, field) for field, _key in HC_OPTIONS})


def _new_hc(
    row: ProtocolRow, hm: HealthMonitor, pool_id: str, vip: str, octavia_vip: str, taken: set[str]
) -> HealthCheckRow:
    # The first free UUID of the (row, monitor, VIP) series: a row can hold a check whose
    # UUID was derived for another row (a sync's fresh UUIDs), hence the search.
    n = 0
    while True:
        uuid = row_uuid(row.uuid, "hc", hm.id, octavia_vip, str(n))
        if uuid not in taken:
            taken.add(uuid)
            break
        n += 1
    return HealthCheckRow(
        uuid, vip, _hm_options(hm), {HC_HM: hm.id, HC_POOL: pool_id, HC_VIP: octavia_vip}
    )


def hm_create(ctx: Context, state: LoadBalancerState | None, hm: HealthMonitor) -> Outcome:
    """``health_monitor_create``: one health check per VIP and FIP, member mappings.

    Deviations: B12 (each FIP check names its own FIP), B15 (works on a disabled pool; plain
    pool id), U1 (disabled members stay OFFLINE and unmapped), B13 (a monitor created with
    ``admin_state_up=false`` is only listed in ``octavia:healthmonitors``: no health check,
    so nothing probes; member statuses and mappings are left alone).
    """
    validate.health_monitor(hm, state.row_with_pool(hm.pool_id) if state and hm.pool_id else None)
    if state is None or hm.pool_id is None:
        return Outcome(state, ({"healthmonitors": [entry(hm.id, ERROR, "NO_MONITOR")]},))
    row = state.row_with_pool(hm.pool_id)
    if row is None:
        return Outcome(
            state,
            (
                {
                    "healthmonitors": [entry(hm.id, ERROR, "NO_MONITOR")],
                    "loadbalancers": lb_active(state.name),
                    "pools": [entry(hm.pool_id, None, "OFFLINE")],
                },
            ),
        )
    pool = row.pool(hm.pool_id)
    assert pool is not None
    hms = list(row.healthmonitors or ())
    if hm.id not in hms:
        hms.append(hm.id)
    if not hm.admin_state_up:
        row = attrs.evolve(row, healthmonitors=tuple(hms))
        state = state.replace(state.row_with_pool(hm.pool_id), row)  # type: ignore[arg-type]
        report = rollup(state.name, row, ctx.view)
        report["healthmonitors"] = [entry(hm.id, ACTIVE, "OFFLINE")]
        return Outcome(state, (report,))
    port = pool_port(row, pool.id)
    taken = {h.uuid for r in state.rows for h in r.health_checks}
    hcs = list(row.health_checks)
    # Idempotence: a check of this monitor for a VIP (or FIP) the row already holds is the
    # one an earlier application inserted (a retry after an unknown commit outcome, a
    # repeated request): it is kept, not duplicated under the next free UUID.
    have = {h.external_ids.get(HC_VIP) for h in hcs if h.external_ids.get(HC_HM) == hm.id}
    fips = ([row.vip_fip] if row.vip_fip else []) + list(row.additional_vip_fips or ())
    for vip in [*vip_list(row), *fips]:
        if vip in have:
            continue
        hcs.append(_new_hc(row, hm, pool.id, health_check_vip(vip, port), vip, taken))
    row = attrs.evolve(row, health_checks=tuple(hcs), healthmonitors=tuple(hms))
    statuses = row.statuses()  # as before the loop (the draft's copy changes in it)
    draft = RowDraft(row)
    failed = False
    for e in pool.members:
        if statuses.get(e.id) == "OFFLINE":
            continue
        value = draft.hm_member(ctx.topology, e)
        failed = failed or (value == "ERROR" and ctx.topology.hm_source_ip(e.subnet_id) is None)
        draft.set_status(e.id, value)
    if failed:
        # Spec 4.3 hm_create step 4: a member without a source IP cleans the pool's
        # mappings, the mapped members' too (a member of another pool that shares the IP
        # and is monitored keeps its mapping, as on hm_delete).
        leaving = {e.id for e in pool.members}
        for e in pool.members:
            draft.hm_member_unmap(e, pool.id, leaving)
    row = draft.finish()
    state = state.replace(state.row_with_pool(hm.pool_id), row)  # type: ignore[arg-type]
    report = rollup(state.name, row, ctx.view, statuses=draft.statuses())
    if failed:
        report["healthmonitors"] = [entry(hm.id, ERROR, ERROR)]
    else:
        report["healthmonitors"] = [
            entry(hm.id, ACTIVE, "ONLINE" if hm.admin_state_up else "OFFLINE")
        ]
    return Outcome(state, (report,))


def _rows_of_hm(state: LoadBalancerState, hm_id: str) -> list[ProtocolRow]:
    return [
        r
        for r in state.rows
        if any(h.external_ids.get(HC_HM) == hm_id for h in r.health_checks)
        or hm_id in (r.healthmonitors or ())
    ]


def _hm_disable(ctx: Context, state: LoadBalancerState, hm: HealthMonitor) -> LoadBalancerState:
    """``hm_delete`` that keeps the monitor listed in ``octavia:healthmonitors`` (B13)."""
    listed = {r.uuid: r.healthmonitors for r in _rows_of_hm(state, hm.id)}
    out = hm_delete(ctx, state, hm)
    assert out.state is not None
    new = out.state
    for r in list(new.rows):
        if r.uuid in listed and r.healthmonitors != listed[r.uuid]:
            new = new.replace(r, attrs.evolve(r, healthmonitors=listed[r.uuid]))
    return new


def hm_update(ctx: Context, state: LoadBalancerState | None, upd: Update[HealthMonitor]) -> Outcome:
    """``health_monitor_update``: merge the changed timers into every check of the monitor.

    Deviation B13: disabling the monitor removes its health checks (members back to
    NO_MONITOR, mappings removed, as ``hm_delete``) but keeps it listed; enabling it
    creates them as ``hm_create`` does, with every timer of the updated monitor.
    """
    hm = upd.new
    listed = _rows_of_hm(state, hm.id) if state else []
    rows = [r for r in listed if any(h.external_ids.get(HC_HM) == hm.id for h in r.health_checks)]
    if state is None or not listed:
        return Outcome(state, ({"healthmonitors": [entry(hm.id, ERROR, ERROR)]},))
    if "admin_state_up" in upd.changed and bool(rows) != hm.admin_state_up:
        if hm.admin_state_up:
            out = hm_create(ctx, state, hm)
            new_state, hm_entries = out.state, out.statuses[0]["healthmonitors"]
        else:
            new_state = _hm_disable(ctx, state, hm)
            hm_entries = [entry(hm.id, ACTIVE, "OFFLINE")]
        toggled: Payload = {
            "loadbalancers": lb_active(state.name),
            "pools": [entry(hm.pool_id)] if hm.pool_id else [],
            "healthmonitors": hm_entries,
        }
        pool_row = new_state.row_with_pool(hm.pool_id) if new_state and hm.pool_id else None
        pool = pool_row.pool(hm.pool_id) if pool_row and hm.pool_id else None
        if pool_row is not None and pool is not None and pool.members:
            statuses = pool_row.statuses()
            toggled["members"] = [
                entry(e.id, ACTIVE, statuses.get(e.id, "NO_MONITOR")) for e in pool.members
            ]
        return Outcome(new_state, (toggled,))
    if not rows:
        # A disabled monitor (B13): nothing to merge into; its timers apply when enabled.
        return Outcome(
            state,
            (
                {
                    "loadbalancers": lb_active(state.name),
                    "pools": [entry(hm.pool_id)] if hm.pool_id else [],
                    "healthmonitors": [
                        entry(hm.id, ACTIVE, "ONLINE" if hm.admin_state_up else "OFFLINE")
                    ],
                },
            ),
        )
    # A changed field set to 0 or None leaves the option as it was (the reference's test).
    changes = health_check_options(
        {field: getattr(hm, field) or None for field, _key in HC_OPTIONS if field in upd.changed}
    )
    for row in rows:
        hcs = tuple(
            attrs.evolve(h, options={**h.options, **changes})
            if h.external_ids.get(HC_HM) == hm.id
            else h
            for h in row.health_checks
        )
        state = state.replace(row, attrs.evolve(row, health_checks=hcs))
    report: Payload = {
        "loadbalancers": lb_active(state.name),
        "pools": [entry(hm.pool_id)] if hm.pool_id else [],
        "healthmonitors": [entry(hm.id, ACTIVE, "ONLINE" if hm.admin_state_up else "OFFLINE")],
    }
    return Outcome(state, (report,))


def hm_delete(ctx: Context, state: LoadBalancerState | None, hm: HealthMonitor) -> Outcome:
    """``health_monitor_delete``: members back to NO_MONITOR (disabled ones stay OFFLINE),
    mappings and checks removed."""
    gone: Payload = {"healthmonitors": [entry(hm.id, DELETED, "NO_MONITOR")]}
    if state is None:
        return Outcome(state, (gone,))
    rows = _rows_of_hm(state, hm.id)
    pool_row = state.row_with_pool(hm.pool_id) if hm.pool_id else None
    if pool_row is not None and pool_row not in rows:
        rows.append(pool_row)
    if not rows:
        return Outcome(state, (gone,))
    report: Payload = {
        "loadbalancers": lb_active(state.name),
        "pools": [entry(hm.pool_id)] if hm.pool_id else [],
        "healthmonitors": [entry(hm.id, DELETED, "NO_MONITOR")],
    }
    for row in rows:
        pool = row.pool(hm.pool_id) if hm.pool_id else None
        draft = RowDraft(row)
        if pool is not None:
            members = []
            statuses = draft.statuses()
            for e in pool.members:
                value = "OFFLINE" if statuses.get(e.id) == "OFFLINE" else "NO_MONITOR"
                draft.set_status(e.id, value)
                members.append(entry(e.id, ACTIVE, value))
            for e in pool.members:
                draft.hm_member_unmap(e, pool.id)
            if members:
                report["members"] = members
            report["listeners"] = [entry(li.id) for li in row.listeners if li.pool_id == pool.id]
        new_row = draft.finish()
        hms = tuple(h for h in (new_row.healthmonitors or ()) if h != hm.id)
        new_row = attrs.evolve(
            new_row,
            health_checks=tuple(
                h for h in new_row.health_checks if h.external_ids.get(HC_HM) != hm.id
            ),
            healthmonitors=hms or None,
        )
        state = state.replace(row, new_row)
    return Outcome(state, (report,))


# -- the SB's verdicts ---------------------------------------------------------------------------


def member_health(
    ctx: Context,
    state: LoadBalancerState,
    ip: str,
    port: int,
    protocol: str,
    logical_port: str,
    src_ip: str,
    status: str | None,
    deleted: bool,
) -> tuple[LoadBalancerState, list[Payload]]:
    """A SB ``Service_Monitor`` change (spec 4.4) applied to one LB; one roll-up per row hit.

    Deviations B16 (exact member match), B17 (``error`` means ERROR), B18 (a deleted monitor
    means NO_MONITOR, the member stays in ``vips``).
    """
    key, value = mapping_key(ip), mapping_value(logical_port, src_ip)
    payloads = []
    for row in state.rows:
        if row.protocol != protocol or row.ip_port_mappings.get(key) != value:
            continue
        match = next((m for _p, m in row.all_members() if m.address == ip and m.port == port), None)
        if match is None:
            continue
        if deleted:
            new_status = "NO_MONITOR"
        elif status in ("offline", "error"):
            new_status = "ERROR"
        else:
            new_status = "ONLINE"
        draft = RowDraft(row)
        draft.set_status(match.id, new_status)
        new = draft.finish()
        state = state.replace(row, new)
        payloads.append(rollup(state.name, new, ctx.view, statuses=draft.statuses()))
    return state, payloads
