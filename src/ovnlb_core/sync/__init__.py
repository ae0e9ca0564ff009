"""Octavia's view against the NB rows: everything about what a sync creates, updates and
deletes lives in this package.

Pure: Octavia's objects (:class:`DesiredLb`, built from Octavia API v2 JSON
by :func:`view_from_api`) and the NB rows (an :class:`~ovnlb_core.plan.LbRowSet`
per load balancer, or an :class:`~ovnlb_core.nb.NbReader`) in, one
:class:`SyncAction` per load balancer out. Backends apply each action's plan
as one transaction.

Modules: :mod:`.ownership` (which rows a sync reads and may delete), :mod:`.ingest`
(Octavia/Neutron API JSON -> :class:`DesiredLb`), :mod:`.desired` (the desired state,
harmonised with NB), :mod:`.actions` (:class:`SyncAction` and planning), :mod:`.render`
(JSON descriptions).
"""

from ovnlb_core.errors import SourceFormatError
from ovnlb_core.sync.actions import (
    ActionKind,
    SyncAction,
    delete_action,
    plan_all,
    sync_action,
)
from ovnlb_core.sync.desired import (
    AFFINITY,
    HEALTH_STATUSES,
    desired_state,
    harmonize,
    hc_pool,
)
from ovnlb_core.sync.ingest import (
    VIEW_FORMAT,
    DesiredLb,
    view_from_api,
)
from ovnlb_core.sync.ownership import (
    DRIVER_KEYS,
    KEY_DEVICE_OWNER,
    PORT_FORWARDING,
    is_owned,
    is_port_forwarding,
    orphan_names,
    rowset,
)
from ovnlb_core.sync.render import (
    action_json,
    hc_json,
    row_json,
    show_json,
)

__all__ = [
    "AFFINITY",
    "DRIVER_KEYS",
    "HEALTH_STATUSES",
    "KEY_DEVICE_OWNER",
    "PORT_FORWARDING",
    "VIEW_FORMAT",
    "ActionKind",
    "DesiredLb",
    "SourceFormatError",
    "SyncAction",
    "action_json",
    "delete_action",
    "desired_state",
    "harmonize",
    "hc_json",
    "hc_pool",
    "is_owned",
    "is_port_forwarding",
    "orphan_names",
    "plan_all",
    "row_json",
    "rowset",
    "show_json",
    "sync_action",
    "view_from_api",
]
