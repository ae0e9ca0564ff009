"""``ovnlb watch``: run a :class:`~ovnlb_backends.watch.Watcher` from the command line.

Status payloads (member health roll-ups) are printed on stdout as JSON
lines, one payload per line; log messages go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from ovnlb_core.status import Payload


def _print_status(payload: Payload) -> None:
    sys.stdout.write(json.dumps(payload, sort_keys=True) + "\n")
    sys.stdout.flush()


def cmd_watch(args: argparse.Namespace) -> int:
    """Watch NB/SB and apply router-interface, floating-IP and health events."""
    from ovnlb_backends.watch import Watcher

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    watcher = Watcher(
        args.remote,
        args.sb_remote,
        on_status=_print_status,
        lock_name=args.lock,
        timeout=args.timeout,
        ssl_key=args.private_key,
        ssl_cert=args.certificate,
        ssl_ca=args.ca_cert,
    )
    try:
        if not watcher.wait_for_lock(args.lock_timeout if args.once else float("inf")):
            print(
                f"ovnlb watch: lock {args.lock!r} is held by another watcher; nothing done",
                file=sys.stderr,
            )
            return 2
        if args.once:
            watcher.step(0)  # the catch-up
            return 0
        try:
            watcher.run()
        except KeyboardInterrupt:
            return 0
    finally:
        watcher.close()
    return 0


def register(subparsers: Any) -> None:
    """Add the ``watch`` command to the ``ovnlb`` parser's subparsers."""
    p = subparsers.add_parser(
        "watch",
        help="apply router-interface, floating-IP and Service_Monitor events (driver agent)",
        description=cmd_watch.__doc__,
    )
    p.add_argument("--remote", required=True, help="NB database remote (unix:, tcp:, ssl:)")
    p.add_argument("--sb-remote", required=True, help="SB database remote")
    p.add_argument(
        "--once", action="store_true", help="catch up once (after getting the lock) and exit"
    )
    p.add_argument("--lock", default="ovnlb_watch", help="OVSDB lock name (default ovnlb_watch)")
    p.add_argument(
        "--lock-timeout",
        type=float,
        default=10.0,
        help="with --once: seconds to wait for the lock (default 10)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="connection timeout in seconds")
    p.add_argument("--private-key", help="PEM private key for ssl: remotes")
    p.add_argument("--certificate", help="PEM certificate for ssl: remotes")
    p.add_argument("--ca-cert", help="PEM CA certificate for ssl: remotes")
    p.add_argument("-v", "--verbose", action="store_true", help="log what is done")
    p.set_defaults(func=cmd_watch)
