"""``ovnlb plan | sync | check | show``: Octavia's view against the NB database.

Exit status of ``plan`` and ``check``: 0 when NB matches Octavia's view, 2
when it drifted, 1 on an error (the source could not be read, a load
balancer could not be planned). ``sync`` exits 0 when everything was
applied, 1 when a load balancer failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ovnlb_backends.base import BackendError
from ovnlb_backends.sources import SourceError, open_source
from ovnlb_backends.sync import LbResult, SyncReport, plan_sync, run_sync
from ovnlb_core.errors import OvnlbError, RowParseError
from ovnlb_core.parse import parse
from ovnlb_core.rows import lb_names
from ovnlb_core.sync import ActionKind, SyncAction, action_json, is_port_forwarding, rowset
from ovnlb_core.sync import show_json as lb_show_json

EXIT_OK, EXIT_ERROR, EXIT_DRIFT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _backend_args(p: argparse.ArgumentParser) -> None:
    from ovnlb_backends.cli import _add_backend_args

    _add_backend_args(p)
    # A sync is about a real NB database: --remote alone selects the IDL backend.
    p.set_defaults(backend="idl")


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="SOURCE",
        help="Octavia's view: a JSON file (docs/sync.md) or 'openstack' (openstacksdk)",
    )
    p.add_argument("--os-cloud", help="cloud of clouds.yaml for --from openstack (else OS_*)")
    p.add_argument(
        "--keep-orphans",
        action="store_true",
        help="never delete load balancers Octavia does not know",
    )
    p.add_argument(
        "--max-deletes",
        type=int,
        default=None,
        metavar="N",
        help="refuse to run when more than N load balancers would be deleted "
        "(default: 0 when the source lists no load balancer, else no limit)",
    )


def register(subparsers: Any) -> None:
    """Add the ``plan``, ``sync``, ``check`` and ``show`` subcommands."""
    p = subparsers.add_parser("plan", help="what a sync would change, per load balancer")
    _source_args(p)
    _backend_args(p)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_plan)

    p = subparsers.add_parser("sync", help="make NB match Octavia's view (one txn per LB)")
    _source_args(p)
    _backend_args(p)
    p.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    p.add_argument("--json", action="store_true", help="JSON summary")
    p.set_defaults(func=cmd_sync)

    p = subparsers.add_parser("check", help="drift report for monitoring (exit 0/2/1)")
    _source_args(p)
    _backend_args(p)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_check)

    p = subparsers.add_parser("show", help="load balancers as Octavia would see them in NB")
    p.add_argument("lb", nargs="?", help="only this load balancer id")
    _backend_args(p)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_show)


# -- helpers --------------------------------------------------------------------------------


def _error(msg: str) -> int:
    print(f"ovnlb: error: {msg}", file=sys.stderr)
    return EXIT_ERROR


def _counts(actions: Sequence[SyncAction]) -> dict[str, int]:
    out = {k.value: 0 for k in ActionKind}
    for a in actions:
        out[a.kind.value] += 1
    return out


def _status(actions: Sequence[SyncAction]) -> tuple[str, int]:
    if any(a.kind is ActionKind.ERROR for a in actions):
        return "error", EXIT_ERROR
    if any(a.drift for a in actions):
        return "drift", EXIT_DRIFT
    return "in-sync", EXIT_OK


def _summary_text(counts: dict[str, int]) -> str:
    return (
        f"{counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete, {counts['in-sync']} in sync, {counts['error']} errors"
    )


def _plan_actions(args: argparse.Namespace) -> list[SyncAction]:
    from ovnlb_backends.cli import open_backend

    source = open_source(args.source, cloud=args.os_cloud)
    lbs = source.load_balancers()
    subnets = source.subnets()
    with open_backend(args) as backend:
        return plan_sync(backend, lbs, subnets, delete_orphans=not args.keep_orphans)


def _guard(fn: Any) -> Any:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            result: int = fn(args)
        except (SourceError, BackendError, OvnlbError) as exc:
            return _error(str(exc))
        return result

    wrapped.__doc__ = fn.__doc__
    return wrapped


def _fmt(value: str | None) -> str:
    return "-" if value is None else json.dumps(value)


def write_plan_text(actions: Sequence[SyncAction], out: TextIO) -> None:
    """The readable form of ``ovnlb plan`` (load balancers in sync are left out)."""
    for action in actions:
        if action.kind is ActionKind.IN_SYNC:
            continue
        d = action_json(action)
        out.write(f"load balancer {action.lb_id}: {action.kind.value}\n")
        if action.error:
            out.write(f"  error: {action.error}\n")
        for issue in action.issues:
            out.write(f"  malformed: {issue}\n")
        for row in d["rows"]["created"]:
            out.write(f"  + row {row['label']} ({row['uuid']})\n")
            for col in ("vips", "external_ids", "options", "ip_port_mappings"):
                for k, v in sorted(row[col].items()):
                    out.write(f"      {col}[{k}] = {_fmt(v)}\n")
        for row in d["rows"]["deleted"]:
            out.write(f"  - row {row['label']} ({row['uuid']})\n")
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
            out.write(f"  + health check {h['vip']!r} {h['external_ids']}\n")
        for u in hcs["deleted"]:
            out.write(f"  - health check {u}\n")
        for h in hcs["updated"]:
            out.write(f"  ~ health check {h['uuid']}: {json.dumps(h, sort_keys=True)}\n")
        for a in d["attachments"]["attach"]:
            out.write(f"  + {a['table']} {a['name']} load_balancer {a['row']}\n")
        for a in d["attachments"]["detach"]:
            out.write(f"  - {a['table']} {a['name']} load_balancer {a['row']}\n")
        for n in d["nat_updates"]:
            out.write(f"  ~ NAT {n['uuid']}: clear logical_port/external_mac\n")


# -- commands -------------------------------------------------------------------------------


@_guard
def cmd_plan(args: argparse.Namespace) -> int:
    """What a sync would change."""
    actions = _plan_actions(args)
    status, code = _status(actions)
    counts = _counts(actions)
    if args.json:
        doc = {
            "status": status,
            "summary": counts,
            "load_balancers": [action_json(a) for a in actions if a.kind is not ActionKind.IN_SYNC],
        }
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        write_plan_text(actions, sys.stdout)
        print(f"plan: {_summary_text(counts)}")
    return code


@_guard
def cmd_check(args: argparse.Namespace) -> int:
    """Drift report: one line per load balancer that differs."""
    actions = _plan_actions(args)
    status, code = _status(actions)
    counts = _counts(actions)
    drifted = [a for a in actions if a.kind is not ActionKind.IN_SYNC]
    if args.json:
        doc = {
            "status": status,
            "summary": counts,
            "load_balancers": [
                {
                    "id": a.lb_id,
                    "action": a.kind.value,
                    "error": a.error,
                    "issues": list(a.issues),
                    "changes": _change_count(a),
                }
                for a in drifted
            ],
        }
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        for a in drifted:
            extra = f": {a.error}" if a.error else f" ({_change_count(a)} changes)"
            print(f"{a.kind.value.upper():7} {a.lb_id}{extra}")
            for issue in a.issues:
                print(f"        malformed: {issue}")
        total = len(actions)
        print(f"check: {status.upper()}: {total} load balancers; {_summary_text(counts)}")
    return code


def _change_count(action: SyncAction) -> int:
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


class _Bar:
    """A progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.active = stream.isatty()

    def __call__(self, done: int, total: int, result: LbResult) -> None:
        if not self.active:
            return
        width = 30
        fill = width * done // max(total, 1)
        self.stream.write(
            f"\rsync [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {result.lb_id[:8]}"
        )
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


@_guard
def cmd_sync(args: argparse.Namespace) -> int:
    """Apply Octavia's view, one transaction per load balancer."""
    from ovnlb_backends.cli import open_backend

    source = open_source(args.source, cloud=args.os_cloud)
    lbs = source.load_balancers()
    subnets = source.subnets()
    with open_backend(args) as backend:
        report = run_sync(
            backend,
            lbs,
            subnets,
            dry_run=args.dry_run,
            delete_orphans=not args.keep_orphans,
            progress=_Bar(sys.stderr),
            max_deletes=_max_deletes(args, lbs),
        )
    if args.dry_run and not args.json:
        write_plan_text([r.action for r in report.results], sys.stdout)
    _write_sync_summary(report, args.json)
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_ERROR


def _max_deletes(args: argparse.Namespace, lbs: Sequence[Any]) -> int | None:
    # An empty answer from Octavia is far more often an outage or a wrong
    # filter than a cloud without load balancers: never wipe NB on it silently.
    if args.max_deletes is not None:
        return int(args.max_deletes)
    return 0 if not lbs else None


def _write_sync_summary(report: SyncReport, as_json: bool) -> None:
    counts = report.counts()
    failures = [r for r in report.results if r.error]
    if as_json:
        doc = {
            "dry_run": report.dry_run,
            "interrupted": report.interrupted,
            "summary": counts,
            "transactions": report.transactions,
            "seconds": round(report.seconds, 3),
            "errors": [{"id": r.lb_id, "error": r.error} for r in failures],
            "load_balancers": [
                {"id": r.lb_id, "action": r.action.kind.value, "applied": r.applied}
                for r in report.results
                if r.action.kind is not ActionKind.IN_SYNC
            ],
        }
        print(json.dumps(doc, indent=2, sort_keys=True))
        return
    for r in failures:
        print(f"ERROR {r.lb_id}: {r.error}", file=sys.stderr)
    verb = "would " if report.dry_run else ""
    print(
        f"sync: {verb}create {counts['create']}, {verb}update {counts['update']}, "
        f"{verb}delete {counts['delete']}; {counts['in-sync']} in sync, "
        f"{counts['error']} errors; {report.transactions} transactions in {report.seconds:.2f} s"
        + (" (interrupted: rerun to finish)" if report.interrupted else "")
    )


@_guard
def cmd_show(args: argparse.Namespace) -> int:
    """Load balancers parsed back from their NB rows."""
    from ovnlb_backends.cli import open_backend

    with open_backend(args) as backend:
        reader = backend.reader()
        names = [args.lb] if args.lb else sorted(lb_names(reader))
        shown = []
        for name in names:
            rows = rowset(reader, name)
            if not rows.lbs or all(is_port_forwarding(r.external_ids) for r in rows.lbs.values()):
                continue
            issues: list[RowParseError] = []
            state = parse(name, rows, issues)
            shown.append(lb_show_json(state, [str(i) for i in issues]))
    if args.lb and not shown:
        return _error(f"load balancer {args.lb}: no Load_Balancer row in NB")
    if args.json:
        print(json.dumps({"loadbalancers": shown}, indent=2, sort_keys=True))
        return EXIT_OK
    for lb in shown:
        _write_show_text(lb, sys.stdout)
    return EXIT_OK


def _write_show_text(lb: dict[str, Any], out: TextIO) -> None:
    fips = ([lb["vip_fip"]] if lb["vip_fip"] else []) + lb["additional_vip_fips"]
    state = "up" if lb["admin_state_up"] else "DOWN"
    vips = ", ".join([lb["vip_address"] or "-"] + [a["ip_address"] for a in lb["additional_vips"]])
    out.write(f"{lb['id']}  vip {vips}  {state}")
    out.write(f"  fip {', '.join(fips)}\n" if fips else "\n")
    for li in lb["listeners"]:
        st = "up" if li["admin_state_up"] else "DOWN"
        out.write(
            f"  listener {li['id']}  {li['protocol']}:{li['protocol_port']}  "
            f"pool {li['default_pool_id'] or '-'}  {st}\n"
        )
    for p in lb["pools"]:
        st = "up" if p["admin_state_up"] else "DOWN"
        hm = f"  hm {p['healthmonitor_id']}" if p["healthmonitor_id"] else ""
        out.write(f"  pool {p['id']}  {p['protocol']} {p['lb_algorithm']}  {st}{hm}\n")
        out.write(f"    {'member':36}  {'address':>28}  {'subnet':36}  status\n")
        for m in p["members"]:
            addr = f"{m['address']}:{m['protocol_port']}"
            out.write(
                f"    {m['id']:36}  {addr:>28}  {m['subnet_id'] or '-':36}  "
                f"{m['operating_status']}\n"
            )
    for issue in lb["issues"]:
        out.write(f"  malformed: {issue}\n")
