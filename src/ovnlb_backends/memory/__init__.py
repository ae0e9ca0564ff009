"""Everything about the in-memory NB database (OVSDB transaction semantics) lives here.

:class:`MemoryBackend` is the reference backend of the conformance suite and
the fake of the unit tests. It keeps the tables of :data:`ovnlb_core.nb.SCHEMA`
and applies a :class:`~ovnlb_core.plan.Plan` or raw row operations the way
ovsdb-server applies one transaction:

* all or nothing: every operation is staged first; any error (unknown row,
  duplicate UUID, missing switch, value of the wrong type, referential
  integrity) raises :class:`~ovnlb_backends.base.BackendError` and leaves the
  committed state untouched;
* map columns change per key (``mutate`` delete, then insert);
* weak references (``load_balancer`` of switches and routers) to deleted rows
  disappear; rows of non-root tables that no strong reference points at are
  garbage collected; a strong reference to a missing row, or a deleted row
  still strongly referenced, is an integrity violation.

It is stricter than the ovs IDL, which drops a value of the wrong type and
commits anyway: this backend rejects what ovsdb-server would reject (types,
enums, integer ranges, unique ``name`` indexes, malformed inserted UUIDs).

Modules: :mod:`.values` (schema constraints, coercion, map/set edits),
:mod:`.store` (tables and indexes), :mod:`.reader` (:class:`MemoryReader`),
:mod:`.txn` (staging, commit-time rules, publishing), :mod:`.backend`
(:class:`MemoryBackend`: plans and raw operations).
"""

from __future__ import annotations

from ovnlb_backends.memory.backend import MemoryBackend
from ovnlb_backends.memory.reader import MemoryReader
from ovnlb_backends.memory.store import MemoryStore

__all__ = ["MemoryBackend", "MemoryReader", "MemoryStore"]
