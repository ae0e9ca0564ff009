"""Octavia provider requests as pure functions on the model, one module per resource.

Each request takes the current :class:`~ovnlb_core.model.LoadBalancerState`
(parsed from NB), a :class:`Context` (topology and Octavia's view) and the
request's objects, and returns an :class:`Outcome`: the new state (translate
and plan it to get the NB writes) and the status payloads Octavia expects
(spec section 5), in send order. Validation runs first: a rejected request
raises a :class:`~ovnlb_core.errors.ValidationError` and changes nothing.

Where the reference driver has a bug (spec section 10) these functions do
the correct thing; docs/compat.md lists every such deviation.

Modules: :mod:`.loadbalancer`, :mod:`.listener`, :mod:`.pool`, :mod:`.member`,
:mod:`.healthmonitor` (with the SB's member verdicts), :mod:`.fip`; what they
share: :mod:`.common` (Context, Outcome, rows, statuses), :mod:`.associations`
(the switch/router association rule, once) and :mod:`.draft` (one row edited for
many members). The NB text formats they write live in :mod:`ovnlb_core.formats`.
"""

from ovnlb_core.requests.associations import (
    Associations,
    associate_lr,
    counts_switch,
    vip_associations,
)
from ovnlb_core.requests.common import Context, Outcome, merge_payloads
from ovnlb_core.requests.fip import fip_associate, fip_disassociate
from ovnlb_core.requests.healthmonitor import hm_create, hm_delete, hm_update, member_health
from ovnlb_core.requests.listener import listener_create, listener_delete, listener_update
from ovnlb_core.requests.loadbalancer import lb_create, lb_delete, lb_update
from ovnlb_core.requests.member import (
    member_batch_update,
    member_batch_update_columns,
    member_create,
    member_delete,
    member_update,
)
from ovnlb_core.requests.pool import pool_create, pool_delete, pool_update

__all__ = [
    "Associations",
    "Context",
    "Outcome",
    "associate_lr",
    "counts_switch",
    "fip_associate",
    "fip_disassociate",
    "hm_create",
    "hm_delete",
    "hm_update",
    "lb_create",
    "lb_delete",
    "lb_update",
    "listener_create",
    "listener_delete",
    "listener_update",
    "member_batch_update",
    "member_batch_update_columns",
    "member_create",
    "member_delete",
    "member_health",
    "member_update",
    "merge_payloads",
    "pool_create",
    "pool_delete",
    "pool_update",
    "vip_associations",
]
