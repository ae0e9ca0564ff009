"""Everything about the ovs Python IDL backend lives in this package.

:class:`IdlBackend` connects to one NB server or to a comma-separated list of
cluster members (leader only by default) over ``unix:``, ``tcp:`` or
``ssl:``, monitors only the tables and columns of
:data:`ovnlb_core.nb.SCHEMA`, and applies a :class:`~ovnlb_core.plan.Plan` as
one OVSDB transaction: per-key ``mutate`` for map columns (``setkey`` /
``delkey``), ``addvalue`` / ``delvalue`` for reference sets, inserts with the
plan's client-chosen UUIDs (``persist_uuid``), and ``verify`` of what the
plan was computed from: for a ``Load_Balancer`` row its server-side
``_version`` (36 bytes, where the old values of ``vips`` and
``external_ids`` can be megabytes), for other rows every column the plan
changes. A TRY_AGAIN (failed verify, reconnect with the transaction in
flight) becomes :class:`~ovnlb_backends.base.TryAgain` once the replica has
resynced, so the caller can re-read, re-plan and re-apply; a retry of a plan
that did commit then plans to nothing.

Reading is lazy: :meth:`IdlBackend.reader` converts a row to the canonical
form of :mod:`ovnlb_core.nb` only when it is looked at (and caches it until the
row changes), and finds rows by ``name`` or by who references them through
indexes kept up to date from the IDL's change notifications, so the cost of
a request does not grow with the number of unrelated load balancers.

Opening a connection installs the fast ``ovs`` JSON-RPC parser of
:mod:`ovnlb_backends.idl.jsonparser` (PyPI's ``ovs`` usually builds without its
C extension, and the pure-Python parser is quadratic in the length of a
string), and makes ovs streams read up to :data:`READ_BYTES` at a time
instead of 4 KB and send with a :data:`SEND_BUFFER_BYTES` socket buffer.

Modules: :mod:`.connection` (remotes, schema fetch), :mod:`.datum` (canonical
values <-> Datum), :mod:`.replica` (the IDL with its indexes), :mod:`.reader`
(:class:`IdlReader`), :mod:`.commit` (plan -> transaction, basis check),
:mod:`.backend` (:class:`IdlBackend`: connect, event loop, execute),
:mod:`.jsonparser` (the fast JSON path).
"""

from __future__ import annotations

from ovnlb_backends.idl.backend import IdlBackend
from ovnlb_backends.idl.connection import (
    NB_DB,
    READ_BYTES,
    SEND_BUFFER_BYTES,
    fetch_schema,
    split_remotes,
)
from ovnlb_backends.idl.jsonparser import (
    StdlibJsonParser,
    ensure_json_parser,
    install_json_parser,
    json_parser_info,
)
from ovnlb_backends.idl.reader import IdlReader

__all__ = [
    "NB_DB",
    "READ_BYTES",
    "SEND_BUFFER_BYTES",
    "IdlBackend",
    "IdlReader",
    "StdlibJsonParser",
    "ensure_json_parser",
    "fetch_schema",
    "install_json_parser",
    "json_parser_info",
    "split_remotes",
]
