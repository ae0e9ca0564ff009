"""The ``ovnlb`` command: sync/plan/check/show NB against Octavia, watch events, replay, demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from ovnlb_backends.base import Backend


@contextlib.contextmanager
def open_backend(args: argparse.Namespace) -> Iterator[Backend]:
    """The backend the command line asks for (starting a private sandbox when asked).

    ``--sandbox`` starts a private ``ovsdb-server`` (``--northd``: also an SB
    database and ``ovn-northd``) in a temporary folder; the processes are
    stopped and the folder removed when the command ends.
    """
    kind = getattr(args, "backend", "memory")
    if kind == "memory":
        from ovnlb_backends.memory import MemoryBackend

        yield MemoryBackend()
        return
    with contextlib.ExitStack() as stack:
        remote = getattr(args, "remote", None)
        northd = bool(getattr(args, "northd", False))
        if getattr(args, "sandbox", False) or northd:
            import tempfile

            from ovnlb_backends.sandbox import OvnSandbox

            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ovnlb-sandbox-"))
            sandbox = stack.enter_context(OvnSandbox(tmp, with_northd=northd))
            remote = sandbox.nb_remote
        if not remote:
            raise SystemExit(f"--backend {kind} needs --remote or --sandbox")
        key = getattr(args, "private_key", None)
        cert = getattr(args, "certificate", None)
        ca = getattr(args, "ca_cert", None)
        backend: Any
        if kind == "idl":
            from ovnlb_backends.idl import IdlBackend

            backend = IdlBackend(remote, ssl_key=key, ssl_cert=cert, ssl_ca=ca)
        elif kind == "nbctl":
            from ovnlb_backends.nbctl import NbctlBackend

            backend = NbctlBackend(remote, private_key=key, certificate=cert, ca_cert=ca)
        else:
            raise SystemExit(f"unknown backend {kind!r}")
        stack.callback(backend.close)
        yield backend


def _add_backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("memory", "idl", "nbctl"), default="memory")
    p.add_argument("--remote", help="NB database remote (unix:PATH, tcp:IP:PORT, ssl:...)")
    p.add_argument(
        "--sandbox", action="store_true", help="start a private ovsdb-server for this run"
    )
    p.add_argument(
        "--northd",
        action="store_true",
        help="with --sandbox: also start an SB database and ovn-northd (implies --sandbox)",
    )
    p.add_argument("--private-key", help="PEM private key for ssl: remotes (idl, nbctl)")
    p.add_argument("--certificate", help="PEM certificate for ssl: remotes (idl, nbctl)")
    p.add_argument("--ca-cert", help="PEM CA certificate for ssl: remotes (idl, nbctl)")


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a conformance file; with --check compare with its expectations."""
    from ovnlb_backends.replay import compare, load, replay

    doc = load(args.file)
    records = []
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        with open_backend(args) as backend:
            for rec in replay(doc, backend):
                records.append(rec)
                if not args.check or args.output:
                    out.write(json.dumps(rec, sort_keys=True) + "\n")
    finally:
        if args.output:
            out.close()
    if args.check:
        problems = compare(doc, records)
        for p in problems:
            print(f"{doc['name']}: {p}", file=sys.stderr)
        total = len(doc["steps"])
        print(
            f"{doc['name']}: {'PASS' if not problems else 'FAIL'} "
            f"({total} steps, {len(problems)} differences)",
            file=sys.stderr,
        )
        return 1 if problems else 0
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the documented walkthrough and print the rows after each step."""
    from ovnlb_backends import demo

    with open_backend(args) as backend:
        demo.run(backend, sys.stdout)
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    """Print versions and which OVSDB JSON parser the IDL backend uses."""
    from importlib import metadata

    print(f"ovnlb {metadata.version('ovnlb')}")
    try:
        from ovnlb_backends.jsonparser import json_parser_info

        print(f"ovs json parser: {json_parser_info()}")
    except ImportError as exc:  # pragma: no cover - reported, not fatal
        print(f"ovs python package: not importable ({exc})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(prog="ovnlb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    from ovnlb_backends import watch_cmd

    watch_cmd.register(sub)
    p = sub.add_parser("replay", help="replay a conformance file")
    p.add_argument("file")
    p.add_argument("--check", action="store_true", help="compare with the file's expectations")
    p.add_argument("--output", help="write the JSON lines here")
    _add_backend_args(p)
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser("demo", help="run the walkthrough and print the rows")
    _add_backend_args(p)
    p.set_defaults(func=cmd_demo)
    for name in ("version", "doctor"):
        p = sub.add_parser(name, help="versions and the JSON parser in use")
        p.set_defaults(func=cmd_version)
    from ovnlb_backends import sync_cmd

    sync_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ovnlb`` console script."""
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
