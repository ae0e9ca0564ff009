"""Each request as a table row: (rows before, request) -> exact rows after and status reports.

Pure: no backend. The rows before a step are built from the spec, parsed into
the model (:func:`ovnlb_core.parse.parse`), the request function of
:mod:`ovnlb_core.requests` runs on that state, and the rows
:func:`ovnlb_core.translate.translate` gives for the new state are compared
column by column with the spec. Every expected value below is typed from
``reference-behavior.md`` section 11 (the worked example: fixture 11.1, one
step per subsection) and sections 3.5, 5.x and A.x for the requests the
walkthrough does not make, with the deviations of ``docs/compat.md`` where
ovnlb fixes a reference bug (named at the row).

Applying a request a second time to its own result must change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ovnlb_backends.cli import demo
from ovnlb_core import requests as rq
from ovnlb_core.nb import NbSnapshot, full_row
from ovnlb_core.octavia import (
    HealthMonitor,
    Listener,
    LoadBalancer,
    Member,
    MemberColumns,
    Pool,
    update_of,
)
from ovnlb_core.parse import parse
from ovnlb_core.plan import HealthCheckRow, LbRowSet, LoadBalancerRow, diff
from ovnlb_core.requests import member as member_mod
from ovnlb_core.status import Payload
from ovnlb_core.topology import Topology
from ovnlb_core.translate import translate

# -- the fixture of section 11.1, typed from the spec ------------------------------------------

L = "94e7c431-912b-496c-a247-d52875d44ac7"
VIP = "172.24.4.9"
N = "ee97665d-69d0-4995-a275-27855359956a"
VIP_SUBNET = "3eed0c05-6527-400e-bb80-df6e59d248f1"
P = "c98e52d0-5965-4b22-8a17-a374f4399193"
R = "3d2a873b-b5b4-4d14-ac24-47a835fd47b2"
MN = "5b2c8d7e-1f3a-4c9b-8e6d-2a7f0c1b9d34"
MS = "8f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b"
VM_PORT = "0c6f4a52-93d1-4e8b-b7a2-5d1e9f3c8a60"
LI = "21e77cde-854f-4c3e-bd8c-9536ae0443bc"
PO = "898be8a2-5185-4f3b-8658-a56457f595a9"
ME = "adf55e70-3d50-4e62-99fd-dd77eababb1c"
HM = "6d2f1e0a-7b3c-4d5e-9f8a-1b2c3d4e5f60"
FIP = "203.0.113.10"

LS_VIP = f"neutron-{N}"
LS_MEMBER = f"neutron-{MN}"
LR = f"neutron-{R}"
#: ``selection_fields`` of every step (SOURCE_IP_PORT and the protocol-less default alike).
FIELDS = ("ip_dst", "ip_src", "tp_dst", "tp_src")
HC_OPTIONS = {"failure_count": "3", "interval": "10", "success_count": "3", "timeout": "5"}
MEMBER_ENTRY = f"member_{ME}_10.10.10.10:63015_{MS}"


def _topology() -> Topology:
    """The NB topology rows of the fixture (switches, ports, router) as a plain snapshot.

    The walkthrough's topology rows are reused from ``ovnlb_backends.cli.demo`` (data only);
    references name rows by their ``_name``, which is used as their UUID here.
    """
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for op in demo.topology_ops():
        row = dict(op["row"])
        uuid = row.pop("_name")
        tables.setdefault(op["table"], {})[uuid] = full_row(op["table"], row)
    return Topology(NbSnapshot(tables), demo.SUBNETS)


TOPOLOGY = _topology()


# -- rows as the spec's tables write them ------------------------------------------------------


@attrs.frozen
class SpecRow:
    """One ``Load_Balancer`` row and what refers to it, in the spec's terms."""

    protocol: str | None
    vips: Mapping[str, str]
    external_ids: Mapping[str, str]
    health_checks: tuple[Mapping[str, Any], ...] = ()  # {vip, options, external_ids}
    ip_port_mappings: Mapping[str, str] = attrs.field(factory=dict)
    switches: frozenset[str] = frozenset()
    routers: frozenset[str] = frozenset()
    options: Mapping[str, str] = attrs.field(factory=dict)
    selection_fields: tuple[str, ...] = FIELDS


def _rowset(rows: list[SpecRow]) -> LbRowSet:
    lbs: dict[str, LoadBalancerRow] = {}
    hcs: dict[str, HealthCheckRow] = {}
    switches: dict[str, frozenset[str]] = {}
    routers: dict[str, frozenset[str]] = {}
    for i, r in enumerate(rows):
        uuid = f"00000000-0000-4000-8000-00000000000{i}"
        hc_uuids = []
        for j, hc in enumerate(r.health_checks):
            hu = f"00000000-0000-4000-8000-0000000001{i}{j}"
            hcs[hu] = HealthCheckRow(hu, hc["vip"], hc["options"], hc["external_ids"])
            hc_uuids.append(hu)
        lbs[uuid] = LoadBalancerRow(
            uuid=uuid,
            name=L,
            protocol=r.protocol,
            vips=r.vips,
            external_ids=r.external_ids,
            selection_fields=r.selection_fields,
            options=r.options,
            ip_port_mappings=r.ip_port_mappings,
            health_check=tuple(hc_uuids),
        )
        if r.switches:
            switches[uuid] = r.switches
        if r.routers:
            routers[uuid] = r.routers
    return LbRowSet(lbs=lbs, health_checks=hcs, switches=switches, routers=routers)


def _as_spec(rows: LbRowSet) -> list[SpecRow]:
    """Rows the core wrote, in the spec's terms (server UUIDs dropped)."""
    out = []
    for uuid, lb in rows.lbs.items():
        assert lb.name == L
        out.append(
            SpecRow(
                protocol=lb.protocol,
                vips=dict(lb.vips),
                external_ids=dict(lb.external_ids),
                health_checks=tuple(
                    sorted(
                        (
                            {
                                "vip": rows.health_checks[h].vip,
                                "options": dict(rows.health_checks[h].options),
                                "external_ids": dict(rows.health_checks[h].external_ids),
                            }
                            for h in lb.health_check
                        ),
                        key=lambda hc: str(hc["vip"]),
                    )
                ),
                ip_port_mappings=dict(lb.ip_port_mappings),
                switches=frozenset(rows.switches.get(uuid, ())),
                routers=frozenset(rows.routers.get(uuid, ())),
                options=dict(lb.options),
                selection_fields=tuple(lb.selection_fields),
            )
        )
    return sorted(out, key=lambda r: r.protocol or "")


def _ext(**extra: str) -> dict[str, str]:
    """``external_ids`` of the walkthrough's row: the keys step 1 writes plus ``extra``."""
    base = {
        "enabled": "True",
        "lr_ref": LR,
        "ls_refs": json.dumps({LS_VIP: 1}),
        "neutron:vip": VIP,
        "neutron:vip_port_id": P,
    }
    base.update(extra)
    return base


BOTH_REFS = json.dumps({LS_VIP: 1, LS_MEMBER: 1})
SWITCHES = frozenset({LS_VIP, LS_MEMBER})
ROUTERS = frozenset({LR})
HC1 = {
    "vip": "172.24.4.9:64015",
    "options": HC_OPTIONS,
    "external_ids": {"octavia:healthmonitor": HM, "octavia:pool_id": PO, "octavia:vip": VIP},
}
HC2 = {
    "vip": "203.0.113.10:64015",
    "options": HC_OPTIONS,
    "external_ids": {"octavia:healthmonitor": HM, "octavia:pool_id": PO, "octavia:vip": FIP},
}
MAPPING = {"10.10.10.10": f"{VM_PORT}:10.10.10.3"}

#: Row after each step of section 11 (11.2 ... 11.8).
STEP1 = SpecRow(None, {}, _ext(), switches=SWITCHES, routers=ROUTERS)
STEP2 = SpecRow("tcp", {}, _ext(**{f"listener_{LI}": "64015:"}), switches=SWITCHES, routers=ROUTERS)
STEP3 = SpecRow(
    "tcp",
    {},
    _ext(**{f"listener_{LI}": f"64015:pool_{PO}", f"pool_{PO}": ""}),
    switches=SWITCHES,
    routers=ROUTERS,
)
_STEP4_EXT = _ext(
    **{
        f"listener_{LI}": f"64015:pool_{PO}",
        f"pool_{PO}": MEMBER_ENTRY,
        "ls_refs": BOTH_REFS,
        "neutron:member_status": json.dumps({ME: "NO_MONITOR"}),
    }
)
STEP4 = SpecRow(
    "tcp", {"172.24.4.9:64015": "10.10.10.10:63015"}, _STEP4_EXT, switches=SWITCHES, routers=ROUTERS
)
_STEP5_EXT = {
    **_STEP4_EXT,
    "octavia:healthmonitors": json.dumps([HM]),
    "neutron:member_status": json.dumps({ME: "ONLINE"}),
}
STEP5 = attrs.evolve(STEP4, external_ids=_STEP5_EXT, health_checks=(HC1,), ip_port_mappings=MAPPING)
STEP6 = attrs.evolve(
    STEP5,
    vips={"172.24.4.9:64015": "10.10.10.10:63015", "203.0.113.10:64015": "10.10.10.10:63015"},
    external_ids={**_STEP5_EXT, "neutron:vip_fip": FIP},
    health_checks=(HC1, HC2),
)
STEP7 = attrs.evolve(
    STEP6,
    vips={},
    external_ids={**STEP6.external_ids, "neutron:member_status": json.dumps({ME: "OFFLINE"})},
    ip_port_mappings={},
)

# -- status entries (section 5) ----------------------------------------------------------------


def _st(oid: str, prov: str, oper: str | None = None) -> dict[str, str]:
    out = {"id": oid, "provisioning_status": prov}
    if oper is not None:
        out["operating_status"] = oper
    return out


def _rollup(member_status: str) -> dict[str, list[dict[str, str]]]:
    return {
        "loadbalancers": [_st(L, "ACTIVE", "ONLINE")],
        "listeners": [_st(LI, "ACTIVE", "ONLINE")],
        "pools": [_st(PO, "ACTIVE", "ONLINE")],
        "members": [_st(ME, "ACTIVE", member_status)],
    }


# -- the requests ------------------------------------------------------------------------------

MEMBER = {
    "member_id": ME,
    "pool_id": PO,
    "address": "10.10.10.10",
    "protocol_port": 63015,
    "subnet_id": MS,
    "admin_state_up": True,
}
Request = Callable[[rq.Context, Any], rq.Outcome]


def lb_create(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.lb_create(
        c,
        s,
        LoadBalancer.from_dict(
            {
                "loadbalancer_id": L,
                "vip_address": VIP,
                "vip_port_id": P,
                "vip_network_id": N,
                "vip_subnet_id": VIP_SUBNET,
                "admin_state_up": True,
            }
        ),
    )


def listener_create(c: rq.Context, s: Any) -> rq.Outcome:
    obj = {
        "listener_id": LI,
        "loadbalancer_id": L,
        "protocol": "TCP",
        "protocol_port": 64015,
        "admin_state_up": True,
    }
    return rq.listener_create(c, s, Listener.from_dict(obj))


def pool_create(c: rq.Context, s: Any) -> rq.Outcome:
    obj = {
        "pool_id": PO,
        "loadbalancer_id": L,
        "listener_id": LI,
        "protocol": "TCP",
        "lb_algorithm": "SOURCE_IP_PORT",
        "admin_state_up": True,
    }
    return rq.pool_create(c, s, Pool.from_dict(obj))


def member_create(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.member_create(c, s, Member.from_dict(MEMBER))


def member_delete(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.member_delete(c, s, Member.from_dict(MEMBER))


def hm_create(c: rq.Context, s: Any) -> rq.Outcome:
    obj = {
        "healthmonitor_id": HM,
        "pool_id": PO,
        "type": "TCP",
        "delay": 10,
        "timeout": 5,
        "max_retries": 3,
        "max_retries_down": 3,
        "admin_state_up": True,
    }
    return rq.hm_create(c, s, HealthMonitor.from_dict(obj))


def fip_associate(c: rq.Context, s: Any) -> rq.Outcome:
    # 11.7: vip_related = ["172.24.4.9"]; the FIP is on the primary VIP port.
    return rq.fip_associate(c, s, FIP, "vip", [VIP])


def fip_disassociate(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.fip_disassociate(c, s, FIP)


# Octavia's member_update hands the provider the whole old member and the changed fields
# (section 11.8's request dict without subnet_id is the reference's internal form).
def member_disable(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.member_update(c, s, update_of(Member, MEMBER, {"admin_state_up": False}))


def member_enable(c: rq.Context, s: Any) -> rq.Outcome:
    old = {**MEMBER, "admin_state_up": False}
    return rq.member_update(c, s, update_of(Member, old, {"admin_state_up": True}))


LB_DICT = {
    "loadbalancer_id": L,
    "vip_address": VIP,
    "vip_port_id": P,
    "vip_network_id": N,
    "vip_subnet_id": VIP_SUBNET,
    "admin_state_up": True,
}
LISTENER_DICT = {
    "listener_id": LI,
    "loadbalancer_id": L,
    "protocol": "TCP",
    "protocol_port": 64015,
    "default_pool_id": PO,
    "admin_state_up": True,
}
POOL_DICT = {
    "pool_id": PO,
    "loadbalancer_id": L,
    "listener_id": LI,
    "protocol": "TCP",
    "lb_algorithm": "SOURCE_IP_PORT",
    "admin_state_up": True,
}
HM_DICT = {
    "healthmonitor_id": HM,
    "pool_id": PO,
    "type": "TCP",
    "delay": 10,
    "timeout": 5,
    "max_retries": 3,
    "max_retries_down": 3,
    "admin_state_up": True,
}


def lb_disable(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.lb_update(c, s, update_of(LoadBalancer, LB_DICT, {"admin_state_up": False}))


def listener_disable(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.listener_update(c, s, update_of(Listener, LISTENER_DICT, {"admin_state_up": False}))


def listener_delete(c: rq.Context, s: Any) -> rq.Outcome:
    no_pool = {k: v for k, v in LISTENER_DICT.items() if k != "default_pool_id"}
    return rq.listener_delete(c, s, Listener.from_dict(no_pool))


def pool_delete(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.pool_delete(c, s, Pool.from_dict(POOL_DICT))


def hm_update_delay(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.hm_update(c, s, update_of(HealthMonitor, HM_DICT, {"delay": 20}))


def hm_delete(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.hm_delete(c, s, HealthMonitor.from_dict(HM_DICT))


def member_batch_create(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.member_batch_update(c, s, PO, [Member.from_dict(MEMBER)])


def lb_delete(c: rq.Context, s: Any) -> rq.Outcome:
    return rq.lb_delete(c, s, LoadBalancer.from_dict({"loadbalancer_id": L}), False)


@attrs.frozen
class Case:
    """One table row: a request on rows typed from the spec, and what must come out."""

    name: str
    before: list[SpecRow]
    request: Request
    after: list[SpecRow]
    statuses: list[Payload]


CASES = [
    # 11.2: the row, both switches and the router (through the VIP subnet's router interface).
    Case(
        "11.2 loadbalancer_create",
        [],
        lb_create,
        [STEP1],
        [{"loadbalancers": [_st(L, "ACTIVE", "ONLINE")]}],
    ),
    # 11.3: the protocol-less row is reused; the listener has no pool yet.
    Case(
        "11.3 listener_create",
        [STEP1],
        listener_create,
        [STEP2],
        [{"listeners": [_st(LI, "ACTIVE", "ONLINE")], "loadbalancers": [_st(L, "ACTIVE")]}],
    ),
    # 11.4: pool key empty, listener names the pool; vips not refreshed (empty pool anyway).
    Case(
        "11.4 pool_create",
        [STEP2],
        pool_create,
        [STEP3],
        [
            {
                "pools": [_st(PO, "ACTIVE", "ONLINE")],
                "loadbalancers": [_st(L, "ACTIVE")],
                "listeners": [_st(LI, "ACTIVE")],
            }
        ],
    ),
    # 11.5: entry appended, vips, member LS counted, status NO_MONITOR; report = roll-up.
    Case("11.5 member_create", [STEP3], member_create, [STEP4], [_rollup("NO_MONITOR")]),
    # 11.6: one health check, the member mapped to its port and the HM port's address.
    Case(
        "11.6 health_monitor_create",
        [STEP4],
        hm_create,
        [STEP5],
        [{**_rollup("ONLINE"), "healthmonitors": [_st(HM, "ACTIVE", "ONLINE")]}],
    ),
    # 11.7: FIP vips entry and a copied health check; no report (5.5).
    Case("11.7 fip_associate", [STEP5], fip_associate, [STEP6], []),
    # 11.8: OFFLINE, out of vips (the FIP entry too), mapping removed, checks kept.
    Case(
        "11.8 member_update admin down",
        [STEP6],
        member_disable,
        [STEP7],
        [{**_rollup("OFFLINE")}],
    ),
    # 11.8 "Re-enabling": ONLINE (a check exists, last status not ERROR), vips and mapping back.
    Case(
        "11.8 member_update admin up",
        [STEP7],
        member_enable,
        [STEP6],
        [{**_rollup("ONLINE")}],
    ),
    # Section 6 (FIP taken off the VIP port): back to the rows before 11.7; no report (5.5).
    Case("6 fip_disassociate", [STEP6], fip_disassociate, [STEP5], []),
    # A.3 member_delete / 3.5: entry, vips and status key go (the member_status key is
    # removed when empty, 1.9); the member LS count reaches 0 and its key goes, but the
    # switch stays attached because the LB's router reaches it (B40). Report 5.3: roll-up with
    # members replaced; the empty pool rolls up ONLINE (B36).
    Case(
        "A.3 member_delete",
        [STEP4],
        member_delete,
        [STEP3],
        [
            {
                "loadbalancers": [_st(L, "ACTIVE", "ONLINE")],
                "listeners": [_st(LI, "ACTIVE", "ONLINE")],
                "pools": [_st(PO, "ACTIVE", "ONLINE")],
                "members": [_st(ME, "DELETED")],
            }
        ],
    ),
    # A.3 member_batch_update with one new member: only the create request, reported as 11.5.
    Case("A.3 member_batch_update", [STEP3], member_batch_create, [STEP4], [_rollup("NO_MONITOR")]),
    # 4.2 hm_update: the changed timer merged into every check of the monitor; report 5.4.
    Case(
        "4.2 health_monitor_update",
        [STEP5],
        hm_update_delay,
        [
            attrs.evolve(
                STEP5,
                health_checks=({**HC1, "options": {**HC_OPTIONS, "interval": "20"}},),
            )
        ],
        [
            {
                "loadbalancers": [_st(L, "ACTIVE")],
                "pools": [_st(PO, "ACTIVE")],
                "healthmonitors": [_st(HM, "ACTIVE", "ONLINE")],
            }
        ],
    ),
    # 4.2 hm_delete steps: members NO_MONITOR, mapping gone, check destroyed, the
    # octavia:healthmonitors key removed (empty list): the rows of step 11.5 again. Report 5.4.
    Case(
        "4.2 health_monitor_delete",
        [STEP5],
        hm_delete,
        [STEP4],
        [
            {
                "loadbalancers": [_st(L, "ACTIVE")],
                "pools": [_st(PO, "ACTIVE")],
                "healthmonitors": [_st(HM, "DELETED", "NO_MONITOR")],
                "members": [_st(ME, "ACTIVE", "NO_MONITOR")],
                "listeners": [_st(LI, "ACTIVE")],
            }
        ],
    ),
    # A.2 pool_delete: the pool key goes, the listener's value back to "<port>:"; report 5.2.
    Case(
        "A.2 pool_delete",
        [STEP3],
        pool_delete,
        [STEP2],
        [
            {
                "pools": [_st(PO, "DELETED")],
                "loadbalancers": [_st(L, "ACTIVE")],
                "listeners": [_st(LI, "ACTIVE")],
            }
        ],
    ),
    # A.1 listener_delete then 2.4: no listener or pool key left on the only row, so its
    # protocol is cleared and the row kept: the rows of step 11.2 again. Report 5.2.
    Case(
        "A.1 listener_delete",
        [STEP2],
        listener_delete,
        [STEP1],
        [{"listeners": [_st(LI, "DELETED", "OFFLINE")], "loadbalancers": [_st(L, "ACTIVE")]}],
    ),
    # A.1 listener_update admin down: the key takes its :D form with the same value, and a
    # disabled listener gives no vips (1.4). Report 5.2: no default_pool_id given, pools [].
    Case(
        "A.1 listener_update admin down",
        [STEP4],
        listener_disable,
        [
            attrs.evolve(
                STEP4,
                vips={},
                external_ids={
                    **{k: v for k, v in _STEP4_EXT.items() if k != f"listener_{LI}"},
                    f"listener_{LI}:D": f"64015:pool_{PO}",
                },
            )
        ],
        [
            {
                "listeners": [_st(LI, "ACTIVE", "OFFLINE")],
                "loadbalancers": [_st(L, "ACTIVE")],
                "pools": [],
            }
        ],
    ),
    # A.5 lb_update admin down: enabled "False" and no vips (1.4 step 1). Report 5.1.
    Case(
        "A.5 loadbalancer_update admin down",
        [STEP4],
        lb_disable,
        [attrs.evolve(STEP4, vips={}, external_ids={**_STEP4_EXT, "enabled": "False"})],
        [{"loadbalancers": [_st(L, "ACTIVE", "OFFLINE")]}],
    ),
    # 5.1 lb_delete without cascade: every row goes; LB DELETED/OFFLINE, empty lists dropped.
    Case(
        "5.1 loadbalancer_delete",
        [STEP3],
        lb_delete,
        [],
        [{"loadbalancers": [_st(L, "DELETED", "OFFLINE")]}],
    ),
]


def _run(case: Case) -> tuple[list[SpecRow], list[Payload], Any]:
    ctx = rq.Context(TOPOLOGY)
    before = _rowset(case.before)
    state = parse(L, before) if before.lbs else None
    outcome = case.request(ctx, state)
    after = translate(outcome.state) if outcome.state is not None else LbRowSet()
    return _as_spec(after), list(outcome.statuses), outcome


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_request_gives_the_spec_rows_and_statuses(case: Case) -> None:
    rows, statuses, outcome = _run(case)
    assert rows == case.after
    assert statuses == case.statuses
    assert outcome.nat_updates == ()


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[c.name for c in CASES],
)
def test_request_applied_twice_changes_nothing_more(case: Case) -> None:
    ctx = rq.Context(TOPOLOGY)
    once = _run(case)[2].state
    if once is None:
        return
    rows = translate(once)
    again = case.request(ctx, parse(L, rows)).state
    assert again is not None
    assert diff(rows, translate(again)).is_empty()


def test_provider_vip_network_variant() -> None:
    """11.9: a VIP LS with ``neutron:provnet-physical-network`` gets no association at create."""
    tables: dict[str, dict[str, dict[str, Any]]] = {
        t: {u: dict(r) for u, r in rows.items()}
        for t, rows in TOPOLOGY.nb.tables.items()  # type: ignore[attr-defined]
    }
    ls = tables["Logical_Switch"][LS_VIP]
    ls["external_ids"] = {**ls.get("external_ids", {}), "neutron:provnet-physical-network": "x"}
    # The router's port on that network is a gateway port, not a router interface.
    for port in tables["Logical_Switch_Port"].values():
        if port["external_ids"].get("neutron:device_owner") == "network:router_interface" and (
            port["external_ids"].get("neutron:network_name") == LS_VIP
        ):
            port["external_ids"] = {
                **port["external_ids"],
                "neutron:device_owner": "network:router_gateway",
            }
    ctx = rq.Context(Topology(NbSnapshot(tables), demo.SUBNETS))
    created = lb_create(ctx, None).state
    assert created is not None
    ext = {"enabled": "True", "neutron:vip": VIP, "neutron:vip_port_id": P}
    assert _as_spec(translate(created)) == [SpecRow(None, {}, ext)]
    # Steps 2-3 as above, then step 4 adds the member LS and the router through the member subnet.
    state: Any = created
    for request in (listener_create, pool_create, member_create):
        state = request(ctx, state).state
        assert state is not None
    [row] = _as_spec(translate(state))
    assert row.external_ids["ls_refs"] == json.dumps({LS_MEMBER: 1})
    assert row.external_ids["lr_ref"] == LR
    assert row.routers == {LR}
    assert LS_MEMBER in row.switches


# -- member_batch_update: the column path against the member-by-member path --------------------

_OTHER = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@st.composite
def _batch_member(draw: st.DrawFn) -> dict[str, Any]:
    """A batch member: the pool's own, one of a few on the member or VIP subnet (or with no
    subnet), sometimes with one field off the usual shape."""
    i = draw(st.integers(0, 5))
    mid = ME if i == 0 else f"00000000-0000-4000-8000-00000000010{i}"
    address = draw(st.sampled_from(["10.10.10.10", "10.10.10.11", "172.24.4.20", "fe80::1"]))
    data: dict[str, Any] = {
        "member_id": mid,
        "pool_id": draw(st.sampled_from([PO, _OTHER])),
        "address": address,
        "protocol_port": draw(st.sampled_from([63015, 80])),
        "admin_state_up": draw(st.booleans()),
    }
    subnet = draw(st.sampled_from([MS, VIP_SUBNET, None, "absent"]))
    if subnet != "absent":
        data["subnet_id"] = subnet
    if draw(st.integers(0, 4)) == 0:
        name = draw(
            st.sampled_from([*sorted(data), "weight", "backup", "monitor_address", "monitor_port"])
        )
        data[name] = draw(
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(-1, 70000),
                st.just("80"),
                st.just("10.10.10.012"),
                st.just(MS.upper()),
                st.just("x"),
            )
        )
    return data


def _batch_outcome(fn: Callable[[], rq.Outcome]) -> Any:
    try:
        outcome = fn()
    except Exception as e:
        return (type(e), str(e))
    rows = translate(outcome.state) if outcome.state is not None else LbRowSet()
    return _as_spec(rows), list(outcome.statuses), outcome.nat_updates


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["STEP3", "STEP4", "STEP5"]),
    st.lists(_batch_member(), min_size=0, max_size=6),
)
@example("STEP4", [{"member_id": ME, "address": "10.10.10.10", "protocol_port": 63015}])
@example("STEP5", [{"member_id": ME, "address": "10.10.10.10", "protocol_port": 63015}])
def test_batch_column_path_is_the_member_by_member_path(
    step: str, batch: list[dict[str, Any]]
) -> None:
    """``MemberColumns.of`` accepts only batches whose every member parses, as the same
    Members, and ``member_batch_update_columns`` gives the same rows, statuses, NAT updates
    and errors as ``member_batch_update`` (what the driver did for every batch)."""
    ctx = rq.Context(TOPOLOGY)
    state = parse(L, _rowset([{"STEP3": STEP3, "STEP4": STEP4, "STEP5": STEP5}[step]]))

    def parsed() -> list[Member]:
        return [Member.from_dict({**m, "pool_id": PO}) for m in batch]

    checked = _batch_outcome(lambda: rq.member_batch_update(ctx, state, PO, parsed()))
    cols = MemberColumns.of(batch, PO)
    if cols is None:
        return
    assert cols.members() == parsed()
    fast = _batch_outcome(lambda: rq.member_batch_update_columns(ctx, state, PO, cols))
    assert fast == checked


def test_the_usual_batch_takes_the_column_path() -> None:
    usual = {"member_id": ME, "address": "10.10.10.10", "protocol_port": 63015, "subnet_id": MS}
    cols = MemberColumns.of([usual, {**usual, "subnet_id": None, "weight": 3}], PO)
    assert cols is not None
    assert cols.subnets == [MS, None] and cols.admins == [True, True]
    for odd in ({"address": "fe80::1"}, {"monitor_port": 80}, {"weight": 257}, {"backup": 1}):
        assert MemberColumns.of([usual, {**usual, **odd}], PO) is None
    assert MemberColumns.of([], PO) is None
    assert MemberColumns.of([usual], "not-a-uuid") is None


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["STEP3", "STEP4", "STEP5"]),
    st.lists(_batch_member(), min_size=0, max_size=6),
)
def test_batch_creates_skip_the_pool_search(step: str, batch: list[dict[str, Any]]) -> None:
    """A batch's creates are added without searching the pool for their entry texts (none
    is there): the same outcome as with the search."""
    ctx = rq.Context(TOPOLOGY)
    state = parse(L, _rowset([{"STEP3": STEP3, "STEP4": STEP4, "STEP5": STEP5}[step]]))
    try:
        members = [Member.from_dict({**m, "pool_id": PO}) for m in batch]
    except Exception:
        return
    fast = _batch_outcome(lambda: rq.member_batch_update(ctx, state, PO, members))
    add = member_mod._add_members

    def searching(*args: Any, new_only: bool = False) -> Any:
        return add(*args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(member_mod, "_add_members", searching)
        slow = _batch_outcome(lambda: rq.member_batch_update(ctx, state, PO, members))
    assert fast == slow


def _parses(m: dict[str, Any]) -> bool:
    try:
        Member.from_dict({**m, "pool_id": PO})
    except Exception:
        return False
    return True


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_batch_member(), min_size=1, max_size=4))
def test_batch_columns_accept_only_parsing_batches(batch: list[dict[str, Any]]) -> None:
    """``MemberColumns.of`` accepts only batches whose every member parses, as the same
    Members (anything else, unusual but valid ones included, goes member by member)."""
    cols = MemberColumns.of(batch, PO)
    if cols is not None:
        assert all(map(_parses, batch))
        assert cols.members() == [Member.from_dict({**m, "pool_id": PO}) for m in batch]
