"""``ovnlb plan | sync | check``: everything about comparing Octavia's view with NB lives here.

How a plan is printed lives in :mod:`~ovnlb_backends.cli.plan_output`;
``ovnlb show`` in :mod:`~ovnlb_backends.cli.show_cmd`.

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
import logging
import sys
import time
from typing import Any, TextIO

from ovnlb_backends.cli.main import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_backend_args,
    add_common_args,
    add_format_args,
    add_seconds_arg,
    open_backend,
)
from ovnlb_backends.cli.output import is_text, write_output
from ovnlb_backends.cli.plan_output import (
    change_count,
    counts,
    plan_json,
    plan_record,
    plan_status,
    summary_text,
    write_plan_records,
    write_plan_text,
)
from ovnlb_backends.service.sources import OctaviaSource, OpenStackSource, open_source
from ovnlb_backends.service.sync import LbResult, SyncReport, plan_sync, run_sync
from ovnlb_core.errors import CliError
from ovnlb_core.sync import ActionKind, SyncAction

__all__ = [
    "CHECK_CRITICAL",
    "CHECK_OK",
    "CHECK_UNKNOWN",
    "CHECK_WARNING",
    "DEFAULT_DELETE_SHARE",
    "Progress",
    "cmd_check",
    "cmd_plan",
    "cmd_sync",
    "register",
]

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
    """Add the ``plan``, ``sync`` and ``check`` subcommands."""
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
    add_seconds_arg(
        p,
        "--progress-interval",
        5.0,
        "without a terminal, one progress line on stderr this often (default 5)",
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


# -- helpers --------------------------------------------------------------------------------


def _warn(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"ovnlb {args.command}: warning: {text}", file=sys.stderr)


def _load_source(args: argparse.Namespace) -> tuple[OctaviaSource, list[Any], dict[str, Any]]:
    source = open_source(args.source, cloud=args.os_cloud)
    lbs = source.load_balancers()
    subnets = source.subnets()
    log.info("%s: %d load balancers, %d subnets", source.describe(), len(lbs), len(subnets))
    for w in source.warnings():
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


def _plan_actions(args: argparse.Namespace) -> tuple[list[SyncAction], int]:
    """The sync actions against NB, and how many warnings the view had."""
    source, lbs, subnets = _load_source(args)
    n_warnings = len(source.warnings())
    _scope_check(args, source, refuse=False)
    with open_backend(args) as backend:
        actions = plan_sync(backend, lbs, subnets, delete_orphans=not args.keep_orphans)
    return actions, n_warnings


# -- commands -------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    """What a sync would change."""
    actions, _ = _plan_actions(args)
    status, code = plan_status(actions)
    summary = counts(actions)
    shown = [a for a in actions if a.kind is not ActionKind.IN_SYNC]
    if is_text(args.format, args.columns):
        write_plan_text(actions, sys.stdout)
        print(f"plan: {summary_text(summary)}")
        return code
    doc = {"status": status, "summary": summary, "load_balancers": [plan_json(a) for a in shown]}
    write_plan_records(args, doc, shown)
    return code


def cmd_check(args: argparse.Namespace) -> int:
    """Drift report: one line per load balancer that differs (monitoring-plugin exit codes)."""
    actions, n_warnings = _plan_actions(args)
    status, _ = plan_status(actions)
    summary = counts(actions)
    drifted = [a for a in actions if a.kind is not ActionKind.IN_SYNC]
    if status != "in-sync":
        code, word = CHECK_CRITICAL, "CRITICAL"
    elif n_warnings:
        code, word = CHECK_WARNING, "WARNING"
    else:
        code, word = CHECK_OK, "OK"
    if is_text(args.format, args.columns):
        # The status line first: monitoring systems show the first line of a check.
        print(
            f"check: {status.upper()}: {len(actions)} load balancers; {summary_text(summary)}"
            f" ({word}{f', {n_warnings} view warnings' if n_warnings else ''})"
        )
        for a in drifted:
            extra = f": {a.error}" if a.error else f" ({change_count(a)} changes)"
            print(f"{a.kind.value.upper():7} {a.lb_id}{extra}")
            for issue in a.issues:
                print(f"        malformed: {issue}")
        return code
    doc = {
        "status": status,
        "nagios": word,
        "warnings": n_warnings,
        "summary": summary,
        "load_balancers": [plan_record(a) for a in drifted],
    }
    write_plan_records(args, doc, drifted)
    return code


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
    text = is_text(args.format, args.columns)
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
    if args.dry_run and text:
        write_plan_text([r.action for r in report.results], sys.stdout)
    _write_sync_summary(report, args)
    if report.interrupted:
        return EXIT_INTERRUPTED
    if args.dry_run:
        return plan_status([r.action for r in report.results])[1]
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
