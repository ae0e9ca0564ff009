"""Everything about the ``ovn-nbctl`` backend lives in this package: every plan is one invocation.

:class:`NbctlBackend` drives Debian's ``ovn-nbctl`` (OVN 23.03, Open vSwitch
library 3.1) as a subprocess, with an argv list (never a shell), or, in
daemon mode and for values too large for an argv, as the same argv strings
sent to an ``ovn-nbctl`` daemon's unixctl socket (see "Talking to a daemon"
below). A :class:`~ovnlb_core.plan.Plan` becomes one invocation whose
commands are joined with ``--``; ovn-nbctl runs them as one OVSDB
transaction. Every value is written in ovn-nbctl's own value syntax: strings always as double-quoted
JSON strings (``json.dumps``, ASCII-only, so ``"``, ``\\``, ``,``, ``:``,
``=``, blanks, newlines, braces and non-ASCII text survive exactly), maps as
``{"k"="v", ...}``, sets as ``[a, b]``.

How a plan is written (measured on the wire, ovsdb-server's jsonrpc log):

* inserts: ``--id=<uuid> create TABLE ...``. ovn-nbctl 23.03 (OVS 3.1) sends
  the plan's UUID in the insert (``"uuid"``, like the IDL's
  ``persist_uuid``), so new rows keep the plan's deterministic UUIDs and
  later commands of the same invocation refer to them by that UUID. A
  retried commit of a plan that did commit fails with ``duplicate uuid``,
  which becomes :class:`~ovnlb_backends.base.TryAgain`: the caller re-reads
  and re-plans to nothing.
* map keys set: ``set TABLE ROW col:key=value ...`` (one command per row),
  sent as a ``mutate`` (delete key + insert). Caveat of ovn-nbctl: when its
  replica does not hold the key it sends only the ``insert``, which does not
  overwrite a key another client added in between.
* map keys and set members removed: ``remove TABLE ROW col key ...``.
  ovn-nbctl 3.1 has no mutate for this: it rewrites the whole column and
  guards it with a ``wait`` on its own fresh copy (a concurrent change makes
  the server answer TRY_AGAIN, and ovn-nbctl re-runs its commands on fresh
  data; nothing is lost, but the whole column is sent).
* attach/detach: ``--may-exist ls-lb-add`` / ``--if-exists ls-lb-del`` (and
  ``lr-``), which are set mutations of the holder's ``load_balancer``; the
  generic ``remove`` would rewrite the whole set. ``ls-lb-add`` also refuses
  a load balancer row that does not exist.
* deletes: ``destroy``. For rows of non-root tables (health checks) the C IDL
  sends no delete and leaves the row to garbage collection, like the Python
  IDL before ovs 3.2: deleting a still-referenced health check is not an
  error here.

What this backend cannot guarantee (unlike :class:`~ovnlb_backends.idl.IdlBackend`):

* no optimistic ``verify`` of the basis. ovn-nbctl has no non-blocking
  conditional command (``wait-until`` blocks until the condition holds).
  With a ``basis``, :meth:`NbctlBackend.commit` reads the basis rows in a
  separate read-only invocation first and raises ``TryAgain`` when they
  differ; a change between that read and the write is not detected. Updates
  and deletes of rows that have disappeared do fail (``no row``) and become
  ``TryAgain``.
* ovn-nbctl retries TRY_AGAIN itself (reconnect with the transaction in
  flight, failed ``wait``) by re-running its commands on fresh data. Those
  are idempotent (keys set or removed, ``--may-exist``/``--if-exists``
  attach and detach); an insert or delete that did commit before a
  reconnect makes the re-run fail (``duplicate uuid``, ``no row``), which
  becomes ``TryAgain``, so a caller that re-reads and re-plans applies the
  change once.
* a timeout (``--timeout``, ovn-nbctl then dies of SIGALRM; through a daemon,
  no reply within ``timeout``) leaves the outcome unknown:
  :class:`~ovnlb_backends.base.BackendError`.
* ovn-nbctl adds a ``comment`` with its whole command line to every write
  transaction (it lands in the database log), and creates the ``NB_Global``
  row in the first invocation against a database without one, even a
  read-only one.
* :meth:`NbctlBackend.transaction_count` counts write invocations that
  succeeded; one whose commands changed nothing writes no database record.
* every direct invocation loads the tables it touches from the server (slow
  with many rows); daemon mode keeps one replica in a long-running
  ``ovn-nbctl`` process, which may lag other clients' writes by the time an
  update takes to arrive.

Reading (:meth:`NbctlBackend.reader`): every lookup a request makes is a
targeted read (``find`` by name, by referenced row, by ``external_ids``
value; ``list`` of given UUIDs), in the canonical form of
:mod:`ovnlb_core.nb`; only iterating ``rows(table)`` lists a whole table.
ovn-nbctl's replica has no indexes, so a ``find`` scans its table; the
backend's :class:`LookupCache` keeps where a name's only row and a pool
key's rows were found, and later requests read those rows by UUID (a hash
lookup), using them only when the same reply shows they still answer the
lookup (the name's only row, checked with ``get TABLE NAME _uuid``; the
pool key still in the row), else the ``find``. Names are learnt from
their ``find``, from whole-table reads (``rows(table)`` iterated: a sync's
orphan listing) and from the backend's own committed inserts (the row is
the only one of its name when no other row of the plan or of its basis
keeps the name). A switch's ports of a type come from its own port set;
the cache keeps that set and the ports whose rows were wanted (its router
ports), so one request reads the switch's ports, the types of the
remembered ones and the rows of the wanted ones, used only when the port
set it reads is the one remembered (else the types of the ports it has now,
a second request). Reads a request makes next ride along: a load
balancer's holders in its name check, its health checks with its holders.
Through a daemon, whose replica is already loaded, a warm request's reads
then cost about the rows they return, except the name check itself, which
compares every row's name (``get``; ``lb-list NAME`` would be 6x faster
but ovn-nbctl 23.03 leaves out rows without VIPs, so it proves nothing).

A sync (:func:`~ovnlb_backends.service.sync.run_sync`) shares only these
hints between its load balancers, never rows or answers: each load
balancer's rows and topology are read again in its own turn (a change
another writer made before that turn is seen, and the commit checks its
basis as for any request). A no-op sync of 1000 load balancers takes six
daemon requests per load balancer, none a ``find`` over every load balancer.

Daemon mode: ``daemon=True`` starts ``ovn-nbctl --detach`` in a private
temporary folder (stopped by :meth:`NbctlBackend.close`); with ``daemon=None``
(the default) an ``OVN_NB_DAEMON`` set in the environment is used; ``False``
runs ovn-nbctl directly (but see "Large values" below). ``OVN_NBCTL_OPTIONS``
is never passed on: it could change the output format this module parses.

Talking to a daemon (and large values):

* The stock client (``OVN_NB_DAEMON=... ovn-nbctl ARGS``) sends its ARGS to
  the daemon's unixctl socket as one JSON-RPC request, verified on the
  daemon's ``-vunixctl:dbg`` log and in ovn-dbctl.c (``dbctl_client``,
  ``server_cmd_run``)::

      {"method": "run", "params": ["--format=json", "--", <command 1 argv>,
                                   "--", <command 2 argv>, ...], "id": 0}

  i.e. its options except the client-only ones (``--timeout``, ``--db``,
  TLS, logging) followed by ``--`` and the remaining argv strings verbatim.
  The daemon answers ``{"result": <stdout text>, "error": null}`` or
  ``{"result": null, "error": <message>}``; the stock client then prints
  ``ovn-nbctl: <message>`` on stderr and exits with 1.
* The stock client takes ARGS from its own argv, so it is bound by the
  kernel's limits (``MAX_ARG_STRLEN``, 128 KiB per string, and ``ARG_MAX``
  for argv plus environment): a pool of 10k members makes ~1 MB
  ``vips`` and ``pool_<id>`` values and ``E2BIG``. This backend therefore
  never runs the stock client: with a daemon (``daemon=True`` or
  ``$OVN_NB_DAEMON``) **every** invocation is that ``run`` request, sent by
  this module itself over the unix socket (no process, no shell, no argv
  limit; the argv strings, hence the quoting, are exactly those of the
  direct path). A daemon's error becomes the same :class:`BackendError`
  text as the subprocess path (``ovn-nbctl failed (1): ovn-nbctl:
  <message>``), so ``duplicate uuid`` and ``no row`` become ``TryAgain``
  the same way. ``timeout`` bounds each request (connect, send and reply);
  an expired one leaves the outcome unknown (the daemon finishes the
  command on its own): :class:`BackendError`.
* In direct mode, an invocation whose argv would not fit (one argument
  over 100 KiB, or argv plus environment over half of ``ARG_MAX``) starts a
  private daemon on first need (the same code as ``daemon=True``, with the
  same remote and TLS files) and goes through it; smaller invocations stay
  direct (fresh reads). The daemon lives until :meth:`NbctlBackend.close`.
  Its replica is loaded when it starts and then follows the server's
  updates: a row written by a direct invocation a moment before may not
  have reached it yet, which makes an update of that row fail with ``no
  row`` (``TryAgain``: the caller re-reads and re-plans).

Modules: :mod:`.syntax` (value syntax, JSON output), :mod:`.reader`
(:class:`NbctlReader`), :mod:`.cache` (:class:`LookupCache`, where rows were
found, kept across requests), :mod:`.commands` (plan -> commands), :mod:`.process`
(subprocesses, the daemon), :mod:`.backend` (:class:`NbctlBackend`),
:mod:`.format` (``ovn-nbctl list``-style rendering).
"""

from __future__ import annotations

from ovnlb_backends.nbctl.backend import NbctlBackend
from ovnlb_backends.nbctl.cache import LookupCache
from ovnlb_backends.nbctl.process import ARG_LIMIT, NbctlProcess
from ovnlb_backends.nbctl.reader import NbctlReader
from ovnlb_backends.nbctl.syntax import Command, quote_string

__all__ = [
    "ARG_LIMIT",
    "Command",
    "LookupCache",
    "NbctlBackend",
    "NbctlProcess",
    "NbctlReader",
    "quote_string",
]
