"""ovnlb's pure core: Octavia requests -> the exact OVN Northbound rows, with no I/O.

What it is: the model of one load balancer's NB rows (:mod:`~ovnlb_core.model`),
model -> rows (:mod:`~ovnlb_core.translate`), rows -> model
(:mod:`~ovnlb_core.parse`), rows -> the minimal change (:mod:`~ovnlb_core.plan`),
the Octavia provider requests as pure functions with their status reports
(:mod:`~ovnlb_core.requests`, :mod:`~ovnlb_core.status`), NB/SB events
(:mod:`~ovnlb_core.events`), sync decisions (:mod:`~ovnlb_core.sync`),
validation and one exception family (:mod:`~ovnlb_core.validate`,
:mod:`~ovnlb_core.errors`).

What it is not: it opens no connection, runs no process, reads no clock and
draws no random number (no ``ovs``, ``subprocess``, ``socket``, ``time``,
``random`` or ``ovnlb_backends`` import). Reading NB and committing a plan is
the job of :mod:`ovnlb_backends`.

The names below are the entry points of a request's data path; the request
functions themselves are reached as ``ovnlb_core.requests.<name>``.
"""

from ovnlb_core.dump import canonical_dump
from ovnlb_core.errors import (
    BackendError,
    InvalidRequestError,
    IPVersionsMixingNotSupportedError,
    NotFoundError,
    OvnlbError,
    RawOpError,
    RetriesExhausted,
    RowParseError,
    SandboxError,
    SandboxUnavailable,
    SourceError,
    SourceFormatError,
    SyncRefused,
    TryAgain,
    UnsupportedOptionError,
    ValidationError,
)
from ovnlb_core.frozen import FrozenMap
from ovnlb_core.model import (
    ListenerState,
    LoadBalancerState,
    MemberEntry,
    PoolState,
    ProtocolRow,
)
from ovnlb_core.nb import SCHEMA, NbReader, NbSnapshot, Row
from ovnlb_core.octavia import (
    HealthMonitor,
    Listener,
    LoadBalancer,
    Member,
    OctaviaView,
    Pool,
    Update,
    update_of,
)
from ovnlb_core.parse import parse
from ovnlb_core.plan import (
    Attachment,
    HcUpdate,
    HealthCheckRow,
    LbRowSet,
    LbUpdate,
    LoadBalancerRow,
    MapDelta,
    NatUpdate,
    Plan,
    diff,
)
from ovnlb_core.rows import lb_rowset
from ovnlb_core.status import Payload, rollup
from ovnlb_core.topology import Subnet, Topology
from ovnlb_core.translate import translate

__all__ = [
    "SCHEMA",
    "Attachment",
    "BackendError",
    "FrozenMap",
    "HcUpdate",
    "HealthCheckRow",
    "HealthMonitor",
    "IPVersionsMixingNotSupportedError",
    "InvalidRequestError",
    "LbRowSet",
    "LbUpdate",
    "Listener",
    "ListenerState",
    "LoadBalancer",
    "LoadBalancerRow",
    "LoadBalancerState",
    "MapDelta",
    "Member",
    "MemberEntry",
    "NatUpdate",
    "NbReader",
    "NbSnapshot",
    "NotFoundError",
    "OctaviaView",
    "OvnlbError",
    "Payload",
    "Plan",
    "Pool",
    "PoolState",
    "ProtocolRow",
    "RawOpError",
    "RetriesExhausted",
    "Row",
    "RowParseError",
    "SandboxError",
    "SandboxUnavailable",
    "SourceError",
    "SourceFormatError",
    "Subnet",
    "SyncRefused",
    "Topology",
    "TryAgain",
    "UnsupportedOptionError",
    "Update",
    "ValidationError",
    "canonical_dump",
    "diff",
    "lb_rowset",
    "parse",
    "rollup",
    "translate",
    "update_of",
]
