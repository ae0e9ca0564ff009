"""How a sync plan is shown: everything about printing ``plan``, ``check``, ``sync --dry-run``.

The JSON form of an action (:func:`plan_json`), its readable text
(:func:`write_plan_text`), the one-record-per-load-balancer form for
``-f table|value`` and ``-c`` (:func:`plan_record`, :func:`write_plan_records`),
and the counts and status words the summaries print.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ovnlb_backends.cli.main import EXIT_DRIFT, EXIT_ERROR, EXIT_OK
from ovnlb_backends.cli.output import write_output
from ovnlb_core.sync import ActionKind, SyncAction, action_json, hc_json, row_json

__all__ = [
    "PLAN_COLUMNS",
    "change_count",
    "counts",
    "plan_json",
    "plan_record",
    "plan_status",
    "summary_text",
    "write_plan_records",
    "write_plan_text",
]


def counts(actions: Sequence[SyncAction]) -> dict[str, int]:
    """How many load balancers each kind of action has."""
    out = {k.value: 0 for k in ActionKind}
    for a in actions:
        out[a.kind.value] += 1
    return out


def plan_status(actions: Sequence[SyncAction]) -> tuple[str, int]:
    """``error``, ``drift`` or ``in-sync``, with the exit code of ``plan``."""
    if any(a.kind is ActionKind.ERROR for a in actions):
        return "error", EXIT_ERROR
    if any(a.drift for a in actions):
        return "drift", EXIT_DRIFT
    return "in-sync", EXIT_OK


def summary_text(counts: dict[str, int]) -> str:
    """The one-line summary of :func:`counts`."""
    return (
        f"{counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete, {counts['in-sync']} in sync, {counts['error']} errors"
    )


def _fmt(value: str | None) -> str:
    return "-" if value is None else json.dumps(value)


def plan_json(action: SyncAction) -> dict[str, Any]:
    """:func:`~ovnlb_core.sync.action_json`, with the columns of the rows to be deleted."""
    d = action_json(action)
    d["rows"]["deleted"] = [
        {**x, **row_json(action.actual.lbs[x["uuid"]])} if x["uuid"] in action.actual.lbs else x
        for x in d["rows"]["deleted"]
    ]
    d["health_checks"]["deleted"] = [
        hc_json(action.actual.health_checks[u]) if u in action.actual.health_checks else {"uuid": u}
        for u in d["health_checks"]["deleted"]
    ]
    return d


def _write_columns(row: dict[str, Any], out: TextIO) -> None:
    for col in ("vips", "external_ids", "options", "ip_port_mappings"):
        for k, v in sorted(row[col].items()):
            out.write(f"      {col}[{k}] = {_fmt(v)}\n")
    if row["selection_fields"]:
        out.write(f"      selection_fields = {json.dumps(row['selection_fields'])}\n")


def write_plan_text(actions: Sequence[SyncAction], out: TextIO) -> None:
    """The readable form of ``ovnlb plan`` (load balancers in sync are left out).

    Health checks are printed as JSON objects; rows and health checks to be
    deleted are printed with their columns, so that the plan shows what goes.
    """
    for action in actions:
        if action.kind is ActionKind.IN_SYNC:
            continue
        d = plan_json(action)
        out.write(f"load balancer {action.lb_id}: {action.kind.value}\n")
        if action.error:
            out.write(f"  error: {action.error}\n")
        for issue in action.issues:
            out.write(f"  malformed: {issue}\n")
        for row in d["rows"]["created"]:
            out.write(f"  + row {row['label']} ({row['uuid']})\n")
            _write_columns(row, out)
        for row in d["rows"]["deleted"]:
            out.write(f"  - row {row['label']} ({row['uuid']})\n")
            if "vips" in row:
                _write_columns(row, out)
        for row in d["rows"]["updated"]:
            out.write(f"  ~ row {row['label']} ({row['uuid']})\n")
            if "protocol" in row:
                p = row["protocol"]
                out.write(f"      protocol: {_fmt(p['old'])} -> {_fmt(p['new'])}\n")
            for col in ("vips", "external_ids", "options", "ip_port_mappings"):
                for c in row.get(col, ()):
                    out.write(f"      {col}[{c['key']}]: {_fmt(c['old'])} -> {_fmt(c['new'])}\n")
            if "selection_fields" in row:
                s = row["selection_fields"]
                out.write(f"      selection_fields: {s['old']} -> {s['new']}\n")
            if "health_check" in row:
                h = row["health_check"]
                out.write(f"      health_check: +{h['add']} -{h['remove']}\n")
        hcs = d["health_checks"]
        for h in hcs["created"]:
            out.write(f"  + health check {json.dumps(h, sort_keys=True)}\n")
        for h in hcs["deleted"]:
            out.write(f"  - health check {json.dumps(h, sort_keys=True)}\n")
        for h in hcs["updated"]:
            out.write(f"  ~ health check {json.dumps(h, sort_keys=True)}\n")
        for a in d["attachments"]["attach"]:
            out.write(f"  + {a['table']} {a['name']} load_balancer {a['row']}\n")
        for a in d["attachments"]["detach"]:
            out.write(f"  - {a['table']} {a['name']} load_balancer {a['row']}\n")
        for n in d["nat_updates"]:
            out.write(f"  ~ NAT {n['uuid']}: clear logical_port/external_mac\n")


PLAN_COLUMNS = ("id", "action", "changes", "error", "issues")


def plan_record(a: SyncAction) -> dict[str, Any]:
    """The ``-f table|value`` record of one action (columns :data:`PLAN_COLUMNS`)."""
    return {
        "id": a.lb_id,
        "action": a.kind.value,
        "changes": change_count(a),
        "error": a.error,
        "issues": list(a.issues),
    }


def change_count(action: SyncAction) -> int:
    """How many columns, rows and references the action's plan changes."""
    p = action.plan
    n = len(p.lb_inserts) + len(p.lb_deletes) + len(p.hc_inserts) + len(p.hc_deletes)
    n += len(p.attach) + len(p.detach) + len(p.nat_updates) + len(p.hc_updates)
    for u in p.lb_updates:
        n += len(u.vips.set) + len(u.vips.delete) + len(u.external_ids.set)
        n += len(u.external_ids.delete) + len(u.options.set) + len(u.options.delete)
        n += len(u.ip_port_mappings.set) + len(u.ip_port_mappings.delete)
        n += int(u.set_protocol) + int(u.selection_fields is not None)
        n += len(u.health_check_add) + len(u.health_check_remove)
    return n


def write_plan_records(
    args: argparse.Namespace, document: Mapping[str, Any], actions: Sequence[SyncAction]
) -> None:
    """``document`` (``-f json|yaml``) or one :func:`plan_record` per action, on stdout."""
    write_output(
        args.format,
        sys.stdout,
        document=document,
        records=[plan_record(a) for a in actions],
        known=PLAN_COLUMNS,
        columns=args.columns,
    )
