"""``ovnlb plan | sync | check | show``: Octavia's view against the NB database.

Exit codes (docs/cli.md): ``plan`` and ``sync --dry-run`` exit 0 when NB
matches Octavia's view, 2 when it drifted, 1 on an error (the source could
not be read, a load balancer could not be planned). ``sync`` exits 0 when
everything was applied, 1 when a load balancer failed or the run stopped,
130 when interrupted. ``check`` speaks the monitoring-plugin convention: 0
OK (in sync), 1 WARNING (in sync, the view has harmless oddities), 2
CRITICAL (drift, or a load balancer that cannot be synced), 3 UNKNOWN (no
answer: source or NB unreadable). Usage errors exit 64 everywhere.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from ovnlb_backends.cli.main import (
    add_backend_args,
    add_common_args,
    add_format_args,
    open_backend,
)
from ovnlb_backends.cli.output import UsageError, write_output
from ovnlb_backends.service.sources import OctaviaSource, OpenStackSource, open_source
from ovnlb_backends.service.sync import LbResult, SyncReport, plan_sync, run_sync
from ovnlb_core.errors import CliError, RowParseError
from ovnlb_core.parse import parse
from ovnlb_core.rows import lb_names
from ovnlb_core.sync import (
    ActionKind,
    SyncAction,
    action_json,
    hc_json,
    is_port_forwarding,
    row_json,
    rowset,
)
from ovnlb_core.sync import show_json as lb_show_json

EXIT_OK, EXIT_ERROR, EXIT_DRIFT, EXIT_INTERRUPTED = 0, 1, 2, 130
#: ``check``: the monitoring-plugin exit codes.
CHECK_OK, CHECK_WARNING, CHECK_CRITICAL, CHECK_UNKNOWN = 0, 1, 2, 3
#: Default share of the owned load balancers a sync may delete without --allow-mass-delete.
DEFAULT_DELETE_SHARE = 0.10

log = logging.getLogger("ovnlb_backends.cli.sync_cmd")


def _source_args(p: argparse.ArgumentParser, *, deleting: bool = False) -> None:
    g = p.add_argument_group("Octavia's view")
    g.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="SOURCE",
        help="Octavia's view: a JSON file (docs/sync.md) or 'openstack' (openstacksdk)",
    )
    g.add_argument("--os-cloud", help="cloud of clouds.yaml for --from openstack (else OS_*)")
    g.add_argument(
        "--keep-orphans",
        action="store_true",
        help="never delete load balancers Octavia does not know",
    )
    if not deleting:
        return
    g.add_argument(
        "--max-deletes",
        type=int,
        default=None,
        metavar="N",
        help="delete at most N load balancers Octavia does not list; refuse the sync "
        "otherwise (default: 10%% of the owned ones in NB, at least 1; 0 when the "
        "source lists none)",
    )
    g.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="go ahead whatever the number of deletions (the view is complete; the "
        "--from openstack scope check still applies)",
    )
    g.add_argument(
        "--allow-project-scope",
        action="store_true",
        help="with --from openstack: delete even when the credentials are not admin",
    )


def register(subparsers: Any) -> None:
    """Add the ``plan``, ``sync``, ``check`` and ``show`` subcommands."""
    p = subparsers.add_parser("plan", help="what a sync would change, per load balancer")
    _source_args(p)
    add_backend_args(p, real_nb_default=True)
    add_format_args(p)
    add_common_args(p)
    p.set_defaults(func=cmd_plan)

    p = subparsers.add_parser("sync", help="make NB match Octavia's view (one txn per LB)")
    _source_args(p, deleting=True)
    add_backend_args(p, real_nb_default=True)
    p.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    p.add_argument(
        "--progress-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="without a terminal, one progress line on stderr this often (default 5)",
    )
    add_format_args(p)
    add_common_args(p)
    p.set_defaults(func=cmd_sync)

    p = subparsers.add_parser(
        "check", help="drift report for monitoring (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)"
    )
    _source_args(p)
    add_backend_args(p, real_nb_default=True)
    add_format_args(p)
    add_common_args(p)
    p.set_defaults(func=cmd_check, error_exit=CHECK_UNKNOWN)

    p = subparsers.add_parser("show", help="load balancers as Octavia would see them in NB")
    p.add_argument(
        "lb",
        nargs="?",
        help="only this load balancer: its id (or a unique prefix), its VIP address, "
        "or its Octavia name (with --from)",
    )
    p.add_argument(
        "--from",
        dest="source",
        metavar="SOURCE",
        help="Octavia's view, to find load balancers by name",
    )
    p.add_argument("--os-cloud", help="cloud of clouds.yaml for --from openstack")
    add_backend_args(p, real_nb_default=True)
    add_format_args(p)
    add_common_args(p)
    p.set_defaults(func=cmd_show)


# -- helpers --------------------------------------------------------------------------------


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


def _warn(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"ovnlb {args.command}: warning: {text}", file=sys.stderr)


def _load_source(args: argparse.Namespace) -> tuple[OctaviaSource, list[Any], dict[str, Any]]:
    source = open_source(args.source, cloud=args.os_cloud)
    lbs = source.load_balancers()
    subnets = source.subnets()
    log.info("%s: %d load balancers, %d subnets", source.describe(), len(lbs), len(subnets))
    warnings = getattr(source, "warnings", None)
    for w in warnings() if callable(warnings) else ():
        _warn(args, f"{source.describe()}: {w}")
    return source, lbs, subnets


def _scope_check(args: argparse.Namespace, source: OctaviaSource, *, refuse: bool) -> None:
    """``--from openstack`` may delete only with credentials that see every project."""
    if not isinstance(source, OpenStackSource) or args.keep_orphans:
        return
    problem = source.scope_problem()
    if problem is None:
        log.info("%s: credentials see every project", source.describe())
        return
    if refuse and not getattr(args, "allow_project_scope", False):
        raise CliError(
            f"{problem}; a sync would delete the other projects' load balancers. Nothing "
            "was written: use admin credentials, --keep-orphans, or --allow-project-scope"
        )
    _warn(args, f"{problem}: the deletions listed may be other projects' load balancers")


def _plan_actions(args: argparse.Namespace) -> list[SyncAction]:
    source, lbs, subnets = _load_source(args)
    _scope_check(args, source, refuse=False)
    with open_backend(args) as backend:
        return plan_sync(backend, lbs, subnets, delete_orphans=not args.keep_orphans)


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


_PLAN_COLUMNS = ("id", "action", "changes", "error", "issues")


def _plan_record(a: SyncAction) -> dict[str, Any]:
    return {
        "id": a.lb_id,
        "action": a.kind.value,
        "changes": _change_count(a),
        "error": a.error,
        "issues": list(a.issues),
    }


# -- commands -------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    """What a sync would change."""
    actions = _plan_actions(args)
    status, code = _status(actions)
    counts = _counts(actions)
    shown = [a for a in actions if a.kind is not ActionKind.IN_SYNC]
    if args.format == "text":
        if args.columns:
            raise UsageError("-c needs -f json, table, value or yaml")
        write_plan_text(actions, sys.stdout)
        print(f"plan: {_summary_text(counts)}")
        return code
    doc = {
        "status": status,
        "summary": counts,
        "load_balancers": [plan_json(a) for a in shown],
    }
    write_output(
        args.format,
        sys.stdout,
        document=doc,
        records=[_plan_record(a) for a in shown],
        known=_PLAN_COLUMNS,
        columns=args.columns,
    )
    return code


def cmd_check(args: argparse.Namespace) -> int:
    """Drift report: one line per load balancer that differs (monitoring-plugin exit codes)."""
    source, lbs, subnets = _load_source(args)
    warnings = getattr(source, "warnings", None)
    n_warnings = len(warnings()) if callable(warnings) else 0
    _scope_check(args, source, refuse=False)
    with open_backend(args) as backend:
        actions = plan_sync(backend, lbs, subnets, delete_orphans=not args.keep_orphans)
    status, _ = _status(actions)
    counts = _counts(actions)
    drifted = [a for a in actions if a.kind is not ActionKind.IN_SYNC]
    if status != "in-sync":
        code, word = CHECK_CRITICAL, "CRITICAL"
    elif n_warnings:
        code, word = CHECK_WARNING, "WARNING"
    else:
        code, word = CHECK_OK, "OK"
    if args.format == "text":
        if args.columns:
            raise UsageError("-c needs -f json, table, value or yaml")
        # The status line first: monitoring systems show the first line of a check.
        total = len(actions)
        print(
            f"check: {status.upper()}: {total} load balancers; {_summary_text(counts)}"
            f" ({word}{f', {n_warnings} view warnings' if n_warnings else ''})"
        )
        for a in drifted:
            extra = f": {a.error}" if a.error else f" ({_change_count(a)} changes)"
            print(f"{a.kind.value.upper():7} {a.lb_id}{extra}")
            for issue in a.issues:
                print(f"        malformed: {issue}")
        return code
    doc = {
        "status": status,
        "nagios": word,
        "warnings": n_warnings,
        "summary": counts,
        "load_balancers": [_plan_record(a) for a in drifted],
    }
    write_output(
        args.format,
        sys.stdout,
        document=doc,
        records=[_plan_record(a) for a in drifted],
        known=_PLAN_COLUMNS,
        columns=args.columns,
    )
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


class Progress:
    """Sync progress on stderr: a bar on a terminal, else one line every ``interval`` seconds.

    Log files and journald get plain lines (no carriage returns), and the
    last state is always printed, so a stalled run shows where it stands.
    """

    def __init__(self, stream: TextIO, interval: float = 5.0, *, enabled: bool = True) -> None:
        self.stream = stream
        self.interval = interval
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self.start = time.monotonic()
        self.last = self.start
        self.counts = {"applied": 0, "in-sync": 0, "failed": 0}
        self.lines = 0

    def __call__(self, done: int, total: int, result: LbResult) -> None:
        key = "failed" if result.error else ("applied" if result.applied else "in-sync")
        self.counts[key] += 1
        if not self.enabled:
            return
        if self.tty:
            width = 30
            fill = width * done // max(total, 1)
            self.stream.write(
                f"\rsync [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {result.lb_id[:8]}"
            )
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
            return
        now = time.monotonic()
        # The last state only after earlier lines: a short run stays quiet.
        final = done == total and self.lines > 0
        if now - self.last < self.interval and not final:
            return
        self.last = now
        self.lines += 1
        c = self.counts
        self.stream.write(
            f"sync: {done}/{total} load balancers ({c['applied']} changed, {c['in-sync']} in "
            f"sync, {c['failed']} failed) after {now - self.start:.1f} s\n"
        )
        self.stream.flush()


def cmd_sync(args: argparse.Namespace) -> int:
    """Apply Octavia's view, one transaction per load balancer."""
    started = float(getattr(args, "started", None) or time.monotonic())
    source, lbs, subnets = _load_source(args)
    _scope_check(args, source, refuse=not args.dry_run)
    if args.columns and args.format == "text":
        raise UsageError("-c needs -f json, table, value or yaml")
    progress = Progress(sys.stderr, args.progress_interval, enabled=not args.quiet)
    with open_backend(args) as backend:
        report = run_sync(
            backend,
            lbs,
            subnets,
            dry_run=args.dry_run,
            delete_orphans=not args.keep_orphans,
            progress=progress,
            max_deletes=args.max_deletes,
            max_delete_share=DEFAULT_DELETE_SHARE,
            allow_mass_delete=args.allow_mass_delete,
            give_up_after=args.timeout,
        )
    # The whole run: reading the view and connecting included.
    report.seconds = time.monotonic() - started
    if args.dry_run and args.format == "text":
        write_plan_text([r.action for r in report.results], sys.stdout)
    _write_sync_summary(report, args)
    if report.interrupted:
        return EXIT_INTERRUPTED
    if args.dry_run:
        return _status([r.action for r in report.results])[1]
    return EXIT_OK if report.ok else EXIT_ERROR


_SYNC_COLUMNS = ("id", "action", "applied", "error")


def _write_sync_summary(report: SyncReport, args: argparse.Namespace) -> None:
    counts = report.counts()
    failures = [r for r in report.results if r.error]
    if args.format != "text":
        records = [
            {"id": r.lb_id, "action": r.action.kind.value, "applied": r.applied, "error": r.error}
            for r in report.results
            if r.action.kind is not ActionKind.IN_SYNC or r.error
        ]
        doc = {
            "dry_run": report.dry_run,
            "interrupted": report.interrupted,
            "stopped": report.stopped,
            "not_attempted": report.not_attempted,
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
        write_output(
            args.format,
            sys.stdout,
            document=doc,
            records=records,
            known=_SYNC_COLUMNS,
            columns=args.columns,
        )
    else:
        verb = "would " if report.dry_run else ""
        tail = ""
        if report.interrupted:
            tail = f" (interrupted, {len(report.not_attempted)} not attempted: rerun to finish)"
        print(
            f"sync: {verb}create {counts['create']}, {verb}update {counts['update']}, "
            f"{verb}delete {counts['delete']}; {counts['in-sync']} in sync, "
            f"{counts['error']} errors; {report.transactions} transactions in "
            f"{report.seconds:.2f} s{tail}"
        )
    for r in failures:
        print(f"ERROR {r.lb_id}: {r.error}", file=sys.stderr)
    if report.stopped:
        applied = sum(1 for r in report.results if r.applied)
        print(
            f"ovnlb sync: error: stopped: {report.stopped}; {applied} load balancers changed, "
            f"{len(failures)} failed, {len(report.not_attempted)} not attempted "
            "(rerun when NB is back)",
            file=sys.stderr,
        )


_SHOW_COLUMNS = ("id", "vip_address", "admin_state_up", "vip_fip", "listeners", "pools", "members")


def _show_record(lb: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": lb["id"],
        "vip_address": lb["vip_address"],
        "admin_state_up": lb["admin_state_up"],
        "vip_fip": lb["vip_fip"],
        "listeners": len(lb["listeners"]),
        "pools": len(lb["pools"]),
        "members": sum(len(p["members"]) for p in lb["pools"]),
    }


def _resolve_lb(args: argparse.Namespace, names: list[str], reader: Any) -> list[str]:
    """The NB names matching the ``show`` argument: id, unique id prefix, VIP, Octavia name."""
    want = args.lb
    if want in names:
        return [want]
    matches = [n for n in names if n.startswith(want)] if len(want) >= 4 else []
    if not matches:
        for n in names:
            rows = rowset(reader, n)
            if any(r.external_ids.get("neutron:vip") == want for r in rows.lbs.values()):
                matches.append(n)
    if not matches and args.source:
        source = open_source(args.source, cloud=args.os_cloud)
        matches = [lb.id for lb in source.load_balancers() if lb.data.get("name") == want]
        matches = [m for m in matches if m in names] or matches
    if len(matches) > 1:
        raise CliError(f"load balancer {want!r} is ambiguous: {', '.join(sorted(matches))}")
    if not matches:
        hint = "" if args.source else " (names are Octavia's: give --from to look them up)"
        raise CliError(f"load balancer {want}: no Load_Balancer row in NB{hint}")
    return matches


def cmd_show(args: argparse.Namespace) -> int:
    """Load balancers parsed back from their NB rows."""
    with open_backend(args) as backend:
        reader = backend.reader()
        names = sorted(lb_names(reader))
        if args.lb:
            names = _resolve_lb(args, names, reader)
        shown = []
        for name in names:
            rows = rowset(reader, name)
            if not rows.lbs or all(is_port_forwarding(r.external_ids) for r in rows.lbs.values()):
                continue
            issues: list[RowParseError] = []
            state = parse(name, rows, issues)
            shown.append(lb_show_json(state, [str(i) for i in issues]))
    if args.lb and not shown:
        raise CliError(f"load balancer {args.lb}: no Load_Balancer row in NB")
    if args.format == "text":
        if args.columns:
            raise UsageError("-c needs -f json, table, value or yaml")
        for lb in shown:
            _write_show_text(lb, sys.stdout)
        return EXIT_OK
    write_output(
        args.format,
        sys.stdout,
        document={"loadbalancers": shown},
        records=[_show_record(lb) for lb in shown],
        known=_SHOW_COLUMNS,
        columns=args.columns,
    )
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
