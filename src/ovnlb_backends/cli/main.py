"""The ``ovnlb`` command: sync/plan/check/show NB against Octavia, watch events, replay, demo.

Exit codes (docs/cli.md): 0 success / in sync, 1 error, 2 drift (``plan``,
``sync --dry-run``), 64 usage error, 130 interrupted; ``check`` follows the
monitoring-plugin convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
Every error is one line on stderr (``--debug`` adds the traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import ssl
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from ovnlb_backends.base import Backend, BackendError
from ovnlb_backends.cli.output import FORMATS, UsageError
from ovnlb_core.errors import CliError, OvnlbError

__all__ = [
    "ENV_NB",
    "ENV_SB",
    "EXIT_DRIFT",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Parser",
    "add_backend_args",
    "add_common_args",
    "add_format_args",
    "add_seconds_arg",
    "add_tls_args",
    "backend_kind",
    "build_parser",
    "check_tls",
    "cmd_demo",
    "cmd_doctor",
    "cmd_replay",
    "cmd_version",
    "main",
    "nb_remote",
    "open_backend",
]

EXIT_OK, EXIT_ERROR, EXIT_DRIFT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 64, 130
#: ovn-nbctl's environment variables for the NB and SB remotes.
ENV_NB, ENV_SB = "OVN_NB_DB", "OVN_SB_DB"

log = logging.getLogger("ovnlb_backends.cli")


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors and exit code 64 (2 means drift here)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def add_common_args(p: argparse.ArgumentParser) -> None:
    """``-v``/``--debug``/``--quiet``: every command takes them."""
    g = p.add_argument_group("logging")
    g.add_argument("-v", "--verbose", action="store_true", help="log what is done (stderr)")
    g.add_argument("--debug", action="store_true", help="log everything, tracebacks on errors")
    g.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")


def add_format_args(p: argparse.ArgumentParser, default: str = "text") -> None:
    """``-f FORMAT``, ``-c COLUMN`` (repeatable) and ``--json`` (= ``-f json``)."""
    g = p.add_argument_group("output")
    g.add_argument("-f", "--format", choices=FORMATS, default=default, help="output format")
    g.add_argument(
        "-c", "--column", action="append", dest="columns", metavar="COLUMN", help="only this column"
    )
    g.add_argument("--json", dest="format", action="store_const", const="json", help="-f json")


class _OneLine(logging.Formatter):
    """One line per record: an exception is summarised unless tracebacks are asked for."""

    def __init__(self, fmt: str, *, tracebacks: bool) -> None:
        super().__init__(fmt)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks or not record.exc_info:
            return super().format(record)
        exc = record.exc_info[1]
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text = saved
        return f"{text}: {type(exc).__name__}: {_one_line(exc)}" if exc else text


def _configure_logging(args: argparse.Namespace) -> None:
    if getattr(args, "debug", False):
        level = logging.DEBUG
    elif getattr(args, "quiet", False):
        level = logging.ERROR
    elif getattr(args, "verbose", False):
        level = logging.INFO
    else:
        level = logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine("ovnlb: %(levelname)s: %(message)s", tracebacks=level <= 10))
    if level != logging.DEBUG:
        # The ovs library logs every reconnection attempt; ovnlb reports the outcome itself.
        handler.addFilter(lambda r: r.name.startswith("ovnlb") or r.levelno >= logging.CRITICAL)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)


# -- the NB connection ------------------------------------------------------------------------


def nb_remote(args: argparse.Namespace) -> str | None:
    """``--remote``/``--db``, else ``$OVN_NB_DB`` (as ovn-nbctl takes them)."""
    return getattr(args, "remote", None) or os.environ.get(ENV_NB) or None


def backend_kind(args: argparse.Namespace) -> str:
    """The backend a command line selects (``--backend`` or the default it implies)."""
    kind: str | None = getattr(args, "backend", None)
    real = bool(
        getattr(args, "remote", None)
        or getattr(args, "sandbox", False)
        or getattr(args, "northd", False)
    )
    if kind == "memory" and real:
        given = "--remote" if getattr(args, "remote", None) else "--sandbox/--northd"
        raise UsageError(
            f"--backend memory writes to an in-memory database only and ignores {given}: "
            "drop one of them (--backend idl or nbctl for a real NB)"
        )
    if kind is None:
        kind = "idl" if real or getattr(args, "real_nb_default", False) else "memory"
    return kind


def check_tls(remote: str, key: str | None, cert: str | None, ca: str | None) -> None:
    """One-line errors for TLS files and settings, before any connection attempt."""
    for opt, path in (("--private-key", key), ("--certificate", cert), ("--ca-cert", ca)):
        if path is None:
            continue
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError as exc:
            raise CliError(f"{opt} {path}: {exc.strerror or exc}") from None
        if b"-----BEGIN" not in head:
            raise CliError(f"{opt} {path}: not a PEM file")
    uses_ssl = any(r.strip().startswith("ssl:") for r in remote.split(","))
    if uses_ssl and not (key and cert and ca):
        missing = [
            o
            for o, v in (("--private-key", key), ("--certificate", cert), ("--ca-cert", ca))
            if not v
        ]
        raise CliError(f"{remote}: an ssl: remote needs {', '.join(missing)} (PEM files)")
    if uses_ssl:
        assert key and cert and ca
        _tls_probe(remote, key, cert, ca)


def _tls_probe(remote: str, key: str, cert: str, ca: str, timeout: float = 5.0) -> None:
    """Try one TLS handshake, so that certificate problems are named as such.

    The ovs library only logs a failed handshake and retries until the
    timeout; Python's ssl module says what is wrong. Like OVSDB, the peer's
    certificate is checked against the CA but not against a host name.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        ctx.load_verify_locations(ca)
    except (ssl.SSLError, OSError) as exc:
        raise CliError(f"--ca-cert {ca}: not a usable CA certificate: {exc}") from None
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise CliError(
            f"--certificate {cert} / --private-key {key}: not a usable pair: {exc}"
        ) from None
    for r in remote.split(","):
        r = r.strip()
        if not r.startswith("ssl:"):
            continue
        host, _, port = r[4:].rpartition(":")
        host = host.strip("[]")
        try:
            with (
                socket.create_connection((host, int(port)), timeout=timeout) as sock,
                ctx.wrap_socket(sock) as tls,
            ):
                tls.do_handshake()
                # With TLS 1.3 the server checks the client's certificate after the
                # client's handshake is done: only the first exchange tells.
                tls.sendall(b'{"method":"echo","params":[],"id":"ovnlb-tls-probe"}')
                if not tls.recv(1):
                    raise ssl.SSLError("the server closed the connection (certificate refused?)")
        except ssl.SSLCertVerificationError as exc:
            raise CliError(
                f"{r}: certificate problem: the server's certificate does not verify against "
                f"--ca-cert {ca} ({exc.verify_message})"
            ) from None
        except ssl.SSLError as exc:
            raise CliError(
                f"{r}: TLS handshake failed, a certificate problem "
                f"(does the server trust --certificate {cert}?): {exc.reason or exc}"
            ) from None
        except (OSError, ValueError):
            continue  # unreachable: the backend reports it (or finds another member)
        return


@contextlib.contextmanager
def open_backend(args: argparse.Namespace) -> Iterator[Backend]:
    """The backend the command line asks for (starting a private sandbox when asked).

    ``--sandbox`` starts a private ``ovsdb-server`` (``--northd``: also an SB
    database and ``ovn-northd``) in a temporary folder; the processes are
    stopped and the folder removed when the command ends. Contradictory
    options (``--backend memory`` with ``--remote``) raise :class:`UsageError`.
    """
    kind = backend_kind(args)
    if kind == "memory":
        from ovnlb_backends.memory import MemoryBackend

        yield MemoryBackend()
        return
    with contextlib.ExitStack() as stack:
        remote = nb_remote(args)
        northd = bool(getattr(args, "northd", False))
        key = getattr(args, "private_key", None)
        cert = getattr(args, "certificate", None)
        ca = getattr(args, "ca_cert", None)
        timeout = float(getattr(args, "timeout", None) or 30.0)
        if getattr(args, "sandbox", False) or northd:
            import tempfile

            from ovnlb_backends.sandbox import OvnSandbox

            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ovnlb-sandbox-"))
            sandbox = stack.enter_context(OvnSandbox(tmp, with_northd=northd))
            remote = sandbox.nb_remote
        if not remote:
            raise UsageError(
                f"--backend {kind} needs an NB remote: --remote/--db, ${ENV_NB} or --sandbox"
            )
        check_tls(remote, key, cert, ca)
        log.info("connecting to %s (%s backend)", remote, kind)
        backend: Any
        if kind == "idl":
            from ovnlb_backends.idl import IdlBackend

            backend = IdlBackend(remote, ssl_key=key, ssl_cert=cert, ssl_ca=ca, timeout=timeout)
        elif kind == "nbctl":
            from ovnlb_backends.nbctl import NbctlBackend

            backend = NbctlBackend(
                remote, private_key=key, certificate=cert, ca_cert=ca, timeout=timeout
            )
        else:  # pragma: no cover - argparse choices
            raise UsageError(f"unknown backend {kind!r}")
        stack.callback(backend.close)
        yield backend


def add_seconds_arg(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, flag: str, default: float, help: str
) -> None:
    """A duration option: a number of seconds (``help`` names the default)."""
    p.add_argument(flag, type=float, default=default, metavar="SECONDS", help=help)


def add_tls_args(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--private-key``, ``--certificate``, ``--ca-cert``: the PEM files of ``ssl:`` remotes."""
    p.add_argument("--private-key", help="PEM private key for ssl: remotes")
    p.add_argument("--certificate", help="PEM certificate for ssl: remotes")
    p.add_argument("--ca-cert", help="PEM CA certificate for ssl: remotes")


def add_backend_args(p: argparse.ArgumentParser, *, real_nb_default: bool = False) -> None:
    """``--backend``, ``--remote``/``--db``, ``--sandbox``, ``--northd``, TLS files, ``--timeout``.

    ``real_nb_default``: the command is about a real NB (plan, sync, ...):
    the backend defaults to ``idl`` and ``$OVN_NB_DB`` names the remote.
    """
    g = p.add_argument_group("NB database")
    g.add_argument(
        "--backend",
        choices=("memory", "idl", "nbctl"),
        default=None,
        help="default: idl when a remote or sandbox is given"
        + ("" if real_nb_default else ", else memory"),
    )
    g.add_argument(
        "--remote",
        "--db",
        dest="remote",
        help=f"NB database remote (unix:PATH, tcp:IP:PORT, ssl:IP:PORT, comma-separated "
        f"cluster members); default ${ENV_NB}",
    )
    g.add_argument(
        "--sandbox", action="store_true", help="start a private ovsdb-server for this run"
    )
    g.add_argument(
        "--northd",
        action="store_true",
        help="with --sandbox: also start an SB database and ovn-northd (implies --sandbox)",
    )
    add_tls_args(g)
    add_seconds_arg(
        g,
        "--timeout",
        30.0,
        "how long to wait for the NB database (connecting, reconnecting); default 30",
    )
    p.set_defaults(real_nb_default=real_nb_default)


# -- commands -------------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a conformance file; with --check compare with its expectations."""
    from ovnlb_backends.service.replay import compare, load, replay

    try:
        doc = load(args.file)
    except OSError as exc:
        raise CliError(f"{args.file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{args.file}: not UTF-8 text") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        if isinstance(exc, json.JSONDecodeError):
            raise CliError(f"{args.file}: not JSON: {exc}") from None
        raise CliError(str(exc) if args.file in str(exc) else f"{args.file}: {exc}") from None
    records = []
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        with open_backend(args) as backend:
            try:
                for rec in replay(doc, backend):
                    records.append(rec)
                    if not args.check or args.output:
                        out.write(json.dumps(rec, sort_keys=True) + "\n")
            except (KeyError, TypeError, AttributeError) as exc:
                raise CliError(f"{args.file}: malformed conformance file ({exc!r})") from None
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
    """Run the documented walkthrough and print the rows after each step.

    On a real NB (``--remote``) the demo refuses to run when its rows are
    already there, and removes what it created at the end, so it can be
    run again.
    """
    from ovnlb_backends.cli import demo

    with open_backend(args) as backend:
        real = backend_kind(args) != "memory" and not (args.sandbox or args.northd)
        if real:
            present = demo.present_rows(backend.reader())
            if present:
                raise CliError(
                    f"the NB database already holds the demo's rows ({present[0]}, ...): "
                    "run the demo against an NB without them, or use --sandbox"
                )
        demo.run(backend, sys.stdout, clean_up=real)
    return 0


def _tool_version(prog: str) -> str:
    import shutil
    import subprocess

    path = shutil.which(prog)
    if path is None:
        return "not installed"
    try:
        res = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run: {exc}"
    first = (res.stdout or res.stderr).strip().splitlines()
    return first[0] if first else "unknown"


def _schema_version(backend: Backend) -> str:
    """The NB schema version the server announced (IDL backend), else ``-``."""
    return backend.schema_version() or "- (known to the idl backend only)"


def cmd_doctor(args: argparse.Namespace) -> int:
    """Versions (ovnlb, OVS/OVN tools, ovs Python, JSON parser); with a remote, test it.

    With an NB remote (``--remote``/``--db``/``$OVN_NB_DB``/``--sandbox``) it
    connects, prints the NB schema version and the time the first full read
    took; exit 1 when the connection fails.
    """
    import time
    from importlib import metadata

    from ovnlb_backends.cli.output import write_output

    facts: list[tuple[str, str]] = [("ovnlb", metadata.version("ovnlb"))]
    facts.append(("python", sys.version.split()[0]))
    try:
        facts.append(("ovs python package", metadata.version("ovs")))
    except metadata.PackageNotFoundError:
        facts.append(("ovs python package", "not installed"))
    try:
        from ovnlb_backends.idl.jsonparser import json_parser_info

        facts.append(("ovs json parser", json_parser_info()))
    except ImportError as exc:  # pragma: no cover - reported, not fatal
        facts.append(("ovs json parser", f"ovs not importable ({exc})"))
    for prog in ("ovsdb-server", "ovn-nbctl", "ovn-northd"):
        facts.append((prog, _tool_version(prog)))
    code, failure = EXIT_OK, ""
    if nb_remote(args) or args.sandbox or args.northd:
        remote = nb_remote(args) or "sandbox"
        start = time.monotonic()
        try:
            with open_backend(args) as backend:
                facts.append(("nb remote", remote))
                facts.append(("nb schema version", _schema_version(backend)))
                lbs = len(backend.reader().rows("Load_Balancer"))
                facts.append(("nb connection", f"ok ({time.monotonic() - start:.2f} s)"))
                facts.append(("nb Load_Balancer rows", str(lbs)))
        except (BackendError, CliError) as exc:
            failure = _one_line(exc)
            facts.append(("nb connection", f"FAILED: {failure}"))
            code = EXIT_ERROR
    else:
        facts.append(("nb connection", f"not tested (give --remote, --db or ${ENV_NB})"))
    if args.format == "text":
        width = max(len(k) for k, _ in facts)
        for k, v in facts:
            print(f"{k + ':':{width + 1}} {v}")
    else:
        records = [{"name": k, "value": v} for k, v in facts]
        write_output(
            args.format,
            sys.stdout,
            document=dict(facts),
            records=records,
            known=("name", "value"),
            columns=args.columns,
        )
    if code:
        print(f"ovnlb doctor: error: NB connection failed: {failure}", file=sys.stderr)
    return code


def cmd_version(args: argparse.Namespace) -> int:
    """Print the ovnlb version."""
    from importlib import metadata

    print(f"ovnlb {metadata.version('ovnlb')}")
    return 0


def _version_string() -> str:
    from importlib import metadata

    return f"ovnlb {metadata.version('ovnlb')}"


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = Parser(prog="ovnlb", description=__doc__)
    parser.add_argument("--version", action="version", version=_version_string())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    from ovnlb_backends.cli import watch_cmd

    watch_cmd.register(sub)
    p = sub.add_parser("replay", help="replay a conformance file")
    p.add_argument("file")
    p.add_argument("--check", action="store_true", help="compare with the file's expectations")
    p.add_argument("--output", help="write the JSON lines here")
    add_backend_args(p)
    add_common_args(p)
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser("demo", help="run the walkthrough and print the rows")
    add_backend_args(p)
    add_common_args(p)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("version", help="the ovnlb version")
    add_common_args(p)
    p.set_defaults(func=cmd_version)
    p = sub.add_parser(
        "doctor", help="versions of ovnlb, OVS/OVN and the NB schema; tests the NB connection"
    )
    add_backend_args(p, real_nb_default=True)
    add_format_args(p)
    add_common_args(p)
    p.set_defaults(func=cmd_doctor)
    from ovnlb_backends.cli import show_cmd, sync_cmd

    sync_cmd.register(sub)
    show_cmd.register(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _stdout_gone() -> None:
    # Later flushes (at exit too) must not raise again: point stdout at /dev/null.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ovnlb`` console script (returns the exit code)."""
    started = time.monotonic()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    # Run times reported cover the whole command (reading the view, connecting).
    args.started = started
    _configure_logging(args)
    error_code = int(getattr(args, "error_exit", EXIT_ERROR))
    prog = f"ovnlb {args.command}"
    try:
        result: int = args.func(args)
        sys.stdout.flush()
        return result
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _stdout_gone()
        print(f"{prog}: error: output closed early (broken pipe)", file=sys.stderr)
        return EXIT_ERROR
    except UsageError as exc:
        print(f"{prog}: error: {_one_line(exc)} (see {prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    except (OvnlbError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return error_code
    except Exception as exc:
        # A bug: still one line (the traceback with --debug), never a dump on an operator.
        if args.debug:
            traceback.print_exc()
        print(
            f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return error_code
