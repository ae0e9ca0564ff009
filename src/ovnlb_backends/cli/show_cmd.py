"""``ovnlb show``: everything about showing load balancers parsed back from NB lives here.

The argument finds one load balancer by id, unique id prefix, VIP address
or (with ``--from``) Octavia name; without it every load balancer in NB is
shown (port-forwarding rows are left out).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from ovnlb_backends.cli.main import (
    EXIT_OK,
    add_backend_args,
    add_common_args,
    add_format_args,
    open_backend,
)
from ovnlb_backends.cli.output import is_text, write_output
from ovnlb_backends.service.sources import open_source
from ovnlb_core.errors import CliError, RowParseError
from ovnlb_core.formats import KEY_VIP
from ovnlb_core.parse import parse
from ovnlb_core.rows import lb_names
from ovnlb_core.sync import is_port_forwarding, rowset
from ovnlb_core.sync import show_json as lb_show_json

__all__ = ["cmd_show", "register"]


def register(subparsers: Any) -> None:
    """Add the ``show`` subcommand."""
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
            if any(r.external_ids.get(KEY_VIP) == want for r in rows.lbs.values()):
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
    if is_text(args.format, args.columns):
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
