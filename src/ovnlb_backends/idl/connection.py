"""Everything about reaching an NB server lives here: remotes and the schema fetch.

:func:`split_remotes` splits a comma-separated list of cluster members the way
the ovs IDL does; :func:`fetch_schema` reads a database's schema from the first
member that answers, installing the fast JSON parser first (every OVSDB
connection ovnlb opens starts here).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import ovs.jsonrpc
import ovs.poller
import ovs.stream

from ovnlb_backends.base import BackendError
from ovnlb_backends.idl.jsonparser import (
    ensure_json_parser,
)

__all__ = ["NB_DB", "READ_BYTES", "SEND_BUFFER_BYTES", "fetch_schema", "split_remotes"]

NB_DB: Final = "OVN_Northbound"


def split_remotes(remote: str) -> list[str]:
    # Same rule as ovs.db.idl.Idl._parse_remotes: "unix:/a,b" keeps ",b" when
    # the piece has no ":" (a path with a comma).
    out: list[str] = []
    for piece in remote.split(","):
        piece = piece.strip()
        if out and ":" not in piece:
            out[-1] += "," + piece
        elif piece:
            out.append(piece)
    return out


#: Bytes asked of the socket per read. ovs's JSON-RPC loop asks 4096: the update of a
#: 10k-member pool (1.6 MB) then costs 400 rounds of its Python read-and-feed loop.
#: A read returns what is there (at most this), so nothing else changes.
READ_BYTES: Final = 1 << 18

#: Send buffer asked for each connection (the kernel caps it at ``net.core.wmem_max``).
#: With the usual 208 KB, the 1.6 MB transaction of a 10k-member pool leaves ovs's
#: JSON-RPC loop in rounds of one partial send, each re-encoding and re-slicing
#: what is left of the message; with room for it, one send takes it all.
SEND_BUFFER_BYTES: Final = 1 << 22

_wrapped: dict[tuple[type, str], Callable[..., Any]] = {}


def _install_large_io() -> None:
    """Make every ovs stream read up to :data:`READ_BYTES` and send with a large buffer (once)."""
    for cls in (ovs.stream.Stream, ovs.stream.SSLStream):
        if (cls, "recv") not in _wrapped:
            orig_recv = _wrapped[(cls, "recv")] = cls.__dict__["recv"]

            def recv(self: Any, n: int, _orig: Callable[[Any, int], Any] = orig_recv) -> Any:
                return _orig(self, max(n, READ_BYTES) if n else n)

            cls.recv = recv
        if (cls, "send") not in _wrapped and "send" in cls.__dict__:
            orig_send = _wrapped[(cls, "send")] = cls.__dict__["send"]

            def send(self: Any, buf: Any, _orig: Callable[[Any, Any], Any] = orig_send) -> Any:
                sock = self.socket
                if sock is not None and sock is not self.__dict__.get("_ovnlb_sized"):
                    self._ovnlb_sized = sock
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
                return _orig(self, buf)

            cls.send = send


def fetch_schema(remotes: Sequence[str], deadline: float, db: str = NB_DB) -> Any:
    """The schema JSON of ``db`` from the first remote that answers ``get_schema``."""
    # Every OVSDB connection ovnlb opens (IdlBackend, the SB watcher) starts
    # here, before any JSON is read: the place to install the fast parser
    # and the large reads and sends.
    ensure_json_parser()
    _install_large_io()
    errors: list[str] = []

    def strerror(error: int) -> str:
        return "connection closed" if error == ovs.jsonrpc.EOF else os.strerror(error)

    for i, remote in enumerate(remotes):
        # Share the time left between the members not tried yet: one that
        # does not answer must not use up the budget of the others.
        remote_deadline = time.monotonic() + (deadline - time.monotonic()) / (len(remotes) - i)
        remaining_ms = max(1, int((remote_deadline - time.monotonic()) * 1000))
        error, stream = ovs.stream.Stream.open_block(
            ovs.stream.Stream.open(remote), timeout=remaining_ms
        )
        if error:
            errors.append(f"{remote}: {strerror(error)}")
            continue
        conn = ovs.jsonrpc.Connection(stream)
        try:
            request = ovs.jsonrpc.Message.create_request("get_schema", [db])
            error = conn.send(request)
            while not error:
                error, reply = conn.recv()
                if error == errno.EAGAIN:
                    error = 0
                    if time.monotonic() >= remote_deadline:
                        error = errno.ETIMEDOUT
                        break
                    conn.run()
                    poller = ovs.poller.Poller()
                    conn.wait(poller)
                    conn.recv_wait(poller)
                    poller.timer_wait(max(1, int((remote_deadline - time.monotonic()) * 1000)))
                    poller.block()
                    continue
                if reply is not None and reply.id == request.id:
                    if reply.type == ovs.jsonrpc.Message.T_REPLY:
                        return reply.result
                    errors.append(f"{remote}: get_schema: {reply.error}")
                    break
            if error:
                errors.append(f"{remote}: {strerror(error)}")
        finally:
            conn.close()
    raise BackendError(f"cannot read the {db} schema: " + "; ".join(errors))
