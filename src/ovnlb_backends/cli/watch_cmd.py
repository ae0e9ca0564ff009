"""``ovnlb watch``: run a :class:`~ovnlb_backends.service.watch.Watcher` from the command line.

Status payloads (member health roll-ups) are printed on stdout as JSON
lines, one payload per line; log messages go to stderr (``-v``: one line
per change applied). The remotes default to ``$OVN_NB_DB`` and
``$OVN_SB_DB``, as for ovn-nbctl/ovn-sbctl.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from ovnlb_core.status import Payload

__all__ = [
    "EXIT_LOCKED",
    "cmd_watch",
    "register",
]

log = logging.getLogger("ovnlb_backends.cli.watch_cmd")

#: Exit code of ``--once`` when another watcher holds the lock.
EXIT_LOCKED = 2


def _print_status(payload: Payload) -> None:
    sys.stdout.write(json.dumps(payload, sort_keys=True) + "\n")
    sys.stdout.flush()


def _log_applied(watcher: Any) -> None:
    """Log the actions applied since the last call (``-v``: what the watcher changed)."""
    applied = watcher.applied
    for a in applied:
        if a.changed:
            log.info("%s: load balancer %s updated", a.kind, a.lb_id)
        else:
            log.debug("%s: load balancer %s already up to date", a.kind, a.lb_id)
    # Keep memory flat on a long run: the list is only read here.
    del applied[:]


def cmd_watch(args: argparse.Namespace) -> int:
    """Watch NB/SB and apply router-interface, floating-IP and health events."""
    from ovnlb_backends.cli.main import EXIT_INTERRUPTED, check_tls
    from ovnlb_backends.cli.output import UsageError
    from ovnlb_backends.service.watch import Watcher
    from ovnlb_core.errors import CliError

    remote = args.remote or os.environ.get("OVN_NB_DB")
    sb_remote = args.sb_remote or os.environ.get("OVN_SB_DB")
    if not remote or not sb_remote:
        wanted = (("--remote/--db or $OVN_NB_DB", remote), ("--sb-remote or $OVN_SB_DB", sb_remote))
        missing = [n for n, v in wanted if not v]
        raise UsageError(f"needs {' and '.join(missing)}")
    for r in (remote, sb_remote):
        check_tls(r, args.private_key, args.certificate, args.ca_cert)
    log.info("watching NB %s and SB %s (lock %s)", remote, sb_remote, args.lock)
    try:
        watcher = Watcher(
            remote,
            sb_remote,
            on_status=_print_status,
            lock_name=args.lock,
            timeout=args.timeout,
            ssl_key=args.private_key,
            ssl_cert=args.certificate,
            ssl_ca=args.ca_cert,
        )
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot connect: {exc}") from None
    try:
        if not watcher.wait_for_lock(args.lock_timeout if args.once else float("inf")):
            print(
                f"ovnlb watch: lock {args.lock!r} is held by another watcher; nothing done",
                file=sys.stderr,
            )
            return EXIT_LOCKED
        log.info("holding lock %s", args.lock)
        if args.once:
            watcher.step(0)  # the catch-up
            _log_applied(watcher)
            return 0
        try:
            while True:
                watcher.step(1.0)
                _log_applied(watcher)
        except KeyboardInterrupt:
            print("ovnlb watch: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
    finally:
        watcher.close()


def register(subparsers: Any) -> None:
    """Add the ``watch`` command to the ``ovnlb`` parser's subparsers."""
    from ovnlb_backends.cli.main import add_common_args, add_seconds_arg, add_tls_args

    p = subparsers.add_parser(
        "watch",
        help="apply router-interface, floating-IP and Service_Monitor events (driver agent)",
        description=cmd_watch.__doc__,
    )
    p.add_argument(
        "--remote", "--db", dest="remote", help="NB database remote (default $OVN_NB_DB)"
    )
    p.add_argument(
        "--sb-remote", "--sb-db", dest="sb_remote", help="SB remote (default $OVN_SB_DB)"
    )
    p.add_argument(
        "--once", action="store_true", help="catch up once (after getting the lock) and exit"
    )
    p.add_argument("--lock", default="ovnlb_watch", help="OVSDB lock name (default ovnlb_watch)")
    add_seconds_arg(
        p, "--lock-timeout", 10.0, "with --once: wait this long for the lock (default 10)"
    )
    add_seconds_arg(p, "--timeout", 30.0, "connection timeout (default 30)")
    add_tls_args(p)
    add_common_args(p)
    p.set_defaults(func=cmd_watch)
