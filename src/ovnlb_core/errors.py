"""One exception hierarchy for everything ovnlb refuses or cannot read.

Every rejection names the resource, its id (when known), the field and the
reason, so an API layer can turn it into a precise 4xx answer. A rejected
request writes nothing: validation runs before any plan is made.
"""

from __future__ import annotations


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
