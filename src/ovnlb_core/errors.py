"""Everything about ovnlb's exceptions lives here: one family under :class:`OvnlbError`.

Every ovnlb exception is declared in this module, core and backends alike
(the classes are plain data, so the core stays pure); the modules that raise
them import them from here (the old import paths, such as
``ovnlb_backends.base.BackendError``, keep working through those imports).

* refused requests: :class:`ValidationError` and its subclasses name the
  resource, its id (when known), the field and the reason, so an API layer can
  turn them into a precise 4xx answer; a rejected request writes nothing;
* missing resources: :class:`NotFoundError`;
* unreadable input: :class:`RowParseError` (NB rows), :class:`RawOpError`
  (conformance raw operations), :class:`SourceFormatError` / :class:`SourceError`
  (Octavia's view);
* the NB database: :class:`BackendError`, :class:`TryAgain`,
  :class:`RetriesExhausted`, :class:`SyncRefused`;
* test and demo servers: :class:`SandboxUnavailable`, :class:`SandboxError`.

A few also subclass the builtin they used to be (``ValueError``,
``RuntimeError``) so existing ``except`` clauses keep catching them.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CliError",
    "IPVersionsMixingNotSupportedError",
    "InvalidRequestError",
    "NotFoundError",
    "OvnlbError",
    "RawOpError",
    "RetriesExhausted",
    "RowParseError",
    "SandboxError",
    "SandboxUnavailable",
    "SourceError",
    "SourceFormatError",
    "SyncRefused",
    "TryAgain",
    "UnsupportedOptionError",
    "UsageError",
    "ValidationError",
]


class OvnlbError(Exception):
    """Base class of every error ovnlb raises on purpose."""


class ValidationError(OvnlbError):
    """A request that ovnlb refuses; nothing was written."""

    def __init__(
        self, resource: str, field: str, reason: str, *, resource_id: str | None = None
    ) -> None:
        self.resource = resource
        self.field = field
        self.reason = reason
        self.resource_id = resource_id
        where = f"{resource} {resource_id}" if resource_id else resource
        super().__init__(f"{where}: {field}: {reason}")


class InvalidRequestError(ValidationError):
    """A malformed value: wrong type, out of range, or text that would corrupt the row grammar."""


class UnsupportedOptionError(ValidationError):
    """Something OVN load balancing cannot do (an Octavia ``UnsupportedOptionError``)."""


class IPVersionsMixingNotSupportedError(UnsupportedOptionError):
    """IPv4 and IPv6 mixed where the VIPs are of one family only."""


class NotFoundError(OvnlbError):
    """A resource the request refers to does not exist (in NB or in Octavia's view)."""

    def __init__(self, resource: str, resource_id: str, detail: str = "") -> None:
        self.resource = resource
        self.resource_id = resource_id
        super().__init__(f"{resource} {resource_id} not found" + (f": {detail}" if detail else ""))


class RowParseError(OvnlbError):
    """An NB row value that does not follow the documented grammar."""

    def __init__(self, table: str, row: str, column: str, key: str | None, reason: str) -> None:
        self.table = table
        self.row = row
        self.column = column
        self.key = key
        self.reason = reason
        loc = f"{column}[{key!r}]" if key is not None else column
        super().__init__(f"{table} {row}: {loc}: {reason}")


class RawOpError(OvnlbError, ValueError):
    """A raw operation names a row or column that does not exist."""


class SourceFormatError(OvnlbError):
    """Octavia's view is not in the documented shape (docs/sync.md)."""


class SourceError(OvnlbError):
    """Octavia's view could not be read."""


class BackendError(OvnlbError):
    """A backend could not read or write the NB database."""


class TryAgain(BackendError):
    """The transaction's outcome is unknown or its basis changed: re-read, re-plan, retry.

    Raised by ``Backend.commit`` when OVSDB answers TRY_AGAIN (a failed
    ``verify``/``wait``, or a reconnect with the transaction in flight, which
    may have committed). Re-planning from fresh rows makes a retry safe.
    """


class RetriesExhausted(BackendError):
    """The NB database kept changing under the request; nothing more was retried.

    The one "gave up" of the retry loop (``ovnlb_backends.base.commit_with_retry``)
    that the driver, the event application and sync share. A :class:`BackendError`:
    like a lost connection, the request may succeed when run again.
    """


class SyncRefused(OvnlbError):
    """The sync would delete more load balancers than allowed; nothing was written."""


class SandboxUnavailable(OvnlbError, RuntimeError):
    """The OVN binaries or schemas needed for a sandbox are not installed."""


class SandboxError(OvnlbError, RuntimeError):
    """A sandbox process failed to start or a control command failed."""


class CliError(OvnlbError):
    """A problem the command line reports in one line (exit 1)."""


class UsageError(OvnlbError):
    """The command line is contradictory or names something unknown (exit 64)."""
