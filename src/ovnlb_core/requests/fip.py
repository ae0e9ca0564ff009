"""Everything about a load balancer's floating IPs lives here.

A floating IP put on (:func:`fip_associate`) or taken off
(:func:`fip_disassociate`) a VIP port (spec 6.2): the rows'
``neutron:vip_fip`` / ``neutron:additional_vip_fip`` keys, their ``vips``
entries, and a copy of each health check of the VIP for the floating IP.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ovnlb_core.formats import HC_HM, HC_VIP, health_check_host, row_uuid, unbracket
from ovnlb_core.model import LoadBalancerState
from ovnlb_core.plan import HealthCheckRow
from ovnlb_core.requests.common import Context, Outcome
from ovnlb_core.requests.healthmonitor import hc_pool_id, pool_port

__all__ = ["fip_associate", "fip_disassociate"]


def fip_associate(
    ctx: Context, state: LoadBalancerState | None, fip: str, vip_kind: str, related: Sequence[str]
) -> Outcome:
    """A floating IP put on the LB's VIP port (spec 6.2): vips and a health check copy.

    Deviation B31: associating a FIP the rows already hold adds nothing twice, and a primary
    VIP FIP replaced by another (A -> B) takes A's health checks with it.
    """
    if state is None:
        return Outcome(state)
    for row in state.rows:
        new = row
        if vip_kind == "additional_vip":
            fips = tuple(new.additional_vip_fips or ())
            if fip not in fips:
                new = attrs.evolve(new, additional_vip_fips=(*fips, fip))
        else:
            replaced = new.vip_fip if new.vip_fip not in (None, fip) else None
            still_used = replaced in (new.additional_vip_fips or ())
            if replaced is not None and not still_used:
                new = attrs.evolve(
                    new,
                    health_checks=tuple(
                        h for h in new.health_checks if h.external_ids.get(HC_VIP) != replaced
                    ),
                )
            new = attrs.evolve(new, vip_fip=fip)
        taken = {h.uuid for r in state.rows for h in r.health_checks}
        hcs = list(new.health_checks)
        have = {(h.external_ids.get(HC_HM), h.external_ids.get(HC_VIP)) for h in hcs}
        for h in new.health_checks:
            ip = h.external_ids.get(HC_VIP) or unbracket(health_check_host(h.vip))
            if ip not in related or (h.external_ids.get(HC_HM), fip) in have:
                continue
            _host, sep, port = h.vip.rpartition(":")
            if not (sep and port.isdigit()):
                # Deviation B44: a check without port takes the pool's listener port.
                listener_port = pool_port(new, hc_pool_id(h))
                port = str(listener_port) if listener_port is not None else ""
            vip = f"{fip}:{port}" if port else ""
            uuid = row_uuid(new.uuid, "hc", h.external_ids.get(HC_HM, ""), fip, "0")
            n = 0
            while uuid in taken:
                n += 1
                uuid = row_uuid(new.uuid, "hc", h.external_ids.get(HC_HM, ""), fip, str(n))
            taken.add(uuid)
            hcs.append(HealthCheckRow(uuid, vip, h.options, {**h.external_ids, HC_VIP: fip}))
            have.add((h.external_ids.get(HC_HM), fip))
        new = attrs.evolve(new, health_checks=tuple(hcs))
        state = state.replace(row, new)
    return Outcome(state)


def fip_disassociate(ctx: Context, state: LoadBalancerState | None, fip: str) -> Outcome:
    """A floating IP taken off the VIP port: its keys, vips entries and health check go."""
    if state is None:
        return Outcome(state)
    for row in state.rows:
        fips = tuple(f for f in (row.additional_vip_fips or ()) if f != fip)
        new = attrs.evolve(
            row,
            additional_vip_fips=fips or None,
            vip_fip=None if row.vip_fip == fip else row.vip_fip,
            health_checks=tuple(h for h in row.health_checks if h.external_ids.get(HC_VIP) != fip),
        )
        state = state.replace(row, new)
    return Outcome(state)
