"""NB/SB row changes -> what to do to the load balancers they concern (pure): everything about
reacting to database events lives in this package.

The OVN provider driver's agent reacts to four kinds of database events
(reference-behavior.md 3.6, 4.4, 6.1, 6.4). This module turns one changed
row (old and new value, canonical form of :mod:`ovnlb_core.nb`) plus the
current NB rows into :class:`LbAction` values: one request closure per load
balancer, run like any Octavia request (read -> parse -> closure ->
translate -> plan -> one transaction). :func:`plan_action` computes the plan
of an action without I/O; :mod:`ovnlb_backends.service.watch` applies them.

Router-interface handlers are *event based*, as the reference's (spec 3.6):
a ``Logical_Router_Port`` created or deleted changes the associations of
the load balancers on that router or network, and the result depends on
the history (a deleted member's router stays, spec 3.5). Each action is
still idempotent (applied twice, the second plans nothing). The other
handlers are *level based*: they compare what the rows say with what the
NAT and Service_Monitor rows say now, so an event seen late (or the start-up
catch-up, :func:`catch_up_actions`) has the same result as one seen live,
and a watcher may drop events while it does not hold the lock. For router
associations the catch-up only completes what no history leaves
(:func:`settle_routers`, the rule ``ovnlb sync`` accepts too).

Deviations from the reference (spec section 10):

* B33: a removed router interface detaches the load balancer only from the
  router and from the switches it reached only through that router; its
  VIP and member switches stay. The router stays while another of its
  interfaces serves a VIP or member subnet of the row. U4: a switch another
  of the LB's routers still reaches stays. A gateway port's event does
  nothing (no router interface, spec 3.2).
* B31: the VIP's floating IPs are reconciled with the ``NAT`` rows of the VIP
  ports: a FIP changed from A to B removes A (keys, ``vips`` entries, health
  check copies) and adds B; repeated events change nothing.
* B32: VIP ports are found through the rows' ``neutron:vip_port_id`` /
  ``neutron:additional_vip_port_ids`` as well, so user-supplied ports work.
* B19/B20: member FIP centralisation looks at every member of the load
  balancer, and also runs when the member's FIP or the VIP's FIP appears
  after the member was created.
* B16-B18: see :func:`ovnlb_core.requests.member_health`, reused here.

Modules: :mod:`.model` (the event model and :func:`plan_action`), :mod:`.lookup` (row
look-ups), :mod:`.routers` (router interfaces), :mod:`.vipfips` (VIP floating IPs),
:mod:`.memberfips` (member floating IPs), :mod:`.health` (Service_Monitor),
:mod:`.dispatch` (which handlers a change goes to, catch-up, de-duplication).
"""

from ovnlb_core.events.dispatch import (
    NB_TABLES,
    catch_up_actions,
    dedupe,
    nb_actions,
    sb_actions,
)
from ovnlb_core.events.health import (
    member_health_actions,
    service_monitor_event,
    service_monitor_events,
)
from ovnlb_core.events.lookup import (
    FIP_PORT_KEY,
)
from ovnlb_core.events.memberfips import (
    centralise_member_fips,
    member_fip_actions,
    member_fip_updates,
)
from ovnlb_core.events.model import (
    ActionPlan,
    Kind,
    LbAction,
    RowChange,
    plan_action,
)
from ovnlb_core.events.routers import (
    interface_added,
    interface_removed,
    required_routers,
    router_interface_actions,
    router_interfaces,
    router_reach,
    routers_on_switch,
    settle_routers,
)
from ovnlb_core.events.vipfips import (
    PORT_FIP_KEY,
    VIP_PORT_PREFIX,
    reconcile_vip_fips,
    vip_fip_actions,
)

__all__ = [
    "FIP_PORT_KEY",
    "NB_TABLES",
    "PORT_FIP_KEY",
    "VIP_PORT_PREFIX",
    "ActionPlan",
    "Kind",
    "LbAction",
    "RowChange",
    "catch_up_actions",
    "centralise_member_fips",
    "dedupe",
    "interface_added",
    "interface_removed",
    "member_fip_actions",
    "member_fip_updates",
    "member_health_actions",
    "nb_actions",
    "plan_action",
    "reconcile_vip_fips",
    "required_routers",
    "router_interface_actions",
    "router_interfaces",
    "router_reach",
    "routers_on_switch",
    "sb_actions",
    "service_monitor_event",
    "service_monitor_events",
    "settle_routers",
    "vip_fip_actions",
]
