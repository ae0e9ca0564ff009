"""Everything about turning a plan into ovn-nbctl commands lives here.

:func:`plan_commands` writes a :class:`~ovnlb_core.plan.Plan` as the commands
of one invocation (``create`` with the plan's UUIDs, per-key ``remove`` and
one ``set`` per row, ``add``/``remove`` of health checks, ``ls-lb-add``/
``lr-lb-del``, ``destroy``); :func:`raw_commands` does the same for resolved
raw operations. Every value is validated before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ovnlb_backends.base import BackendError
from ovnlb_backends.nbctl.syntax import (
    HC,
    LB,
    Command,
    checked_uuid,
    datum_text,
    map_items,
    quote_string,
)
from ovnlb_backends.rowops import hc_columns, lb_columns
from ovnlb_core import rawops
from ovnlb_core.nb import SCHEMA
from ovnlb_core.plan import (
    MapDelta,
    Plan,
)

__all__ = ["create_command", "holder_arg", "map_commands", "plan_commands", "raw_commands"]

_HOLDER_CMDS: Final = {
    "Logical_Switch": ("ls-lb-add", "ls-lb-del"),
    "Logical_Router": ("lr-lb-add", "lr-lb-del"),
}


def create_command(table: str, uuid: str, columns: Mapping[str, Any]) -> Command:
    specs = SCHEMA[table]
    cmd = [f"--id={checked_uuid(uuid, f'{table} row UUID')}", "create", table]
    for col, value in columns.items():
        spec = specs.get(col)
        if spec is None:
            raise BackendError(f"unknown column {table}.{col}")
        if value is None and spec.kind == "optional":
            continue  # the default
        cmd.append(f"{col}={datum_text(spec, value, f'{table}.{col}')}")
    return cmd


def map_commands(table: str, uuid: str, deltas: Mapping[str, MapDelta]) -> list[Command]:
    """``remove`` of deleted keys (per column), then one ``set`` of every key to set."""
    out: list[Command] = []
    sets: list[str] = []
    for col, delta in deltas.items():
        where = f"{table}.{col}"
        if delta.delete:
            out.append(
                ["remove", table, uuid, col, *(quote_string(k, where) for k in delta.delete)]
            )
        for k, v in map_items(delta.set, where):
            sets.append(f"{col}:{k}={v}")
    if sets:
        # All keys of a row in one command: ovn-nbctl sends a partial (mutate)
        # update only for the last command touching a column.
        out.append(["set", table, uuid, *sets])
    return out


def plan_commands(plan: Plan) -> tuple[list[Command], set[str]]:
    """The commands of ``plan`` and the UUIDs of the rows it updates or deletes."""
    lb_spec, hc_spec = SCHEMA[LB], SCHEMA[HC]
    cmds: list[Command] = []
    touched: set[str] = set()
    for h in plan.hc_inserts:
        cmds.append(create_command(HC, h.uuid, hc_columns(h)))
    for r in plan.lb_inserts:
        cmds.append(create_command(LB, r.uuid, lb_columns(r)))
    for u in plan.lb_updates:
        uuid = checked_uuid(u.uuid, "Load_Balancer row UUID")
        touched.add(uuid)
        if u.set_protocol:
            if u.protocol is None:
                cmds.append(["clear", LB, uuid, "protocol"])
            else:
                value = datum_text(lb_spec["protocol"], u.protocol, "Load_Balancer.protocol")
                cmds.append(["set", LB, uuid, f"protocol={value}"])
        if u.selection_fields is not None:
            where = "Load_Balancer.selection_fields"
            value = datum_text(lb_spec["selection_fields"], u.selection_fields, where)
            cmds.append(["set", LB, uuid, f"selection_fields={value}"])
        deltas = {
            "vips": u.vips,
            "external_ids": u.external_ids,
            "options": u.options,
            "ip_port_mappings": u.ip_port_mappings,
        }
        cmds += map_commands(LB, uuid, deltas)
        if u.health_check_remove:
            removed = [checked_uuid(h, "Load_Balancer.health_check") for h in u.health_check_remove]
            cmds.append(["remove", LB, uuid, "health_check", *removed])
        if u.health_check_add:
            added = [checked_uuid(h, "Load_Balancer.health_check") for h in u.health_check_add]
            cmds.append(["add", LB, uuid, "health_check", *added])
    for hu in plan.hc_updates:
        uuid = checked_uuid(hu.uuid, f"{HC} row UUID")
        touched.add(uuid)
        if hu.vip is not None:
            cmds.append(["set", HC, uuid, f"vip={datum_text(hc_spec['vip'], hu.vip, f'{HC}.vip')}"])
        cmds += map_commands(HC, uuid, {"options": hu.options, "external_ids": hu.external_ids})
    for n in plan.nat_updates:
        uuid = checked_uuid(n.uuid, "NAT row UUID")
        touched.add(uuid)
        flags = (("logical_port", n.clear_logical_port), ("external_mac", n.clear_external_mac))
        cols = [c for c, on in flags if on]
        if cols:
            cmds.append(["clear", "NAT", uuid, *cols])
    for a in plan.detach:
        lb = checked_uuid(a.lb_uuid, "detached Load_Balancer")
        cmds.append(["--if-exists", _HOLDER_CMDS[a.table][1], holder_arg(a.name), lb])
    for a in plan.attach:
        lb = checked_uuid(a.lb_uuid, "attached Load_Balancer")
        cmds.append(["--may-exist", _HOLDER_CMDS[a.table][0], holder_arg(a.name), lb])
    for table, deletes in ((LB, plan.lb_deletes), (HC, plan.hc_deletes)):
        for d in deletes:
            uuid = checked_uuid(d, f"{table} row UUID")
            touched.add(uuid)
            cmds.append(["destroy", table, uuid])
    return cmds, touched


def holder_arg(name: str) -> str:
    # ls-lb-add takes the switch's name verbatim (not in value syntax).
    # A bare "--" would end the command; NUL cannot be passed in argv.
    if not isinstance(name, str) or name in ("", "--") or "\x00" in name:
        raise BackendError(f"switch or router name {name!r} cannot be passed to ovn-nbctl")
    return name


def raw_commands(ops: Sequence[rawops.ResolvedOp]) -> list[Command]:
    cmds: list[Command] = []
    for op in ops:
        if isinstance(op, rawops.RowInsert):
            cmds.append(create_command(op.table, op.uuid, op.columns))
        elif isinstance(op, rawops.RowUpdate):
            specs = SCHEMA[op.table]
            assigns = []
            for col, value in op.columns.items():
                if col not in specs:
                    raise BackendError(f"unknown column {op.table}.{col}")
                assigns.append(f"{col}={datum_text(specs[col], value, f'{op.table}.{col}')}")
            if assigns:
                cmds.append(["set", op.table, checked_uuid(op.uuid, "row UUID"), *assigns])
        else:
            cmds.append(["destroy", op.table, checked_uuid(op.uuid, "row UUID")])
    return cmds
