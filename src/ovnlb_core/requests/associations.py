"""Everything about which switches and routers a load balancer is attached to lives here.

The association rule (spec 1.7, 1.8), written once:

* a switch is *counted* in ``ls_refs`` (+1 per VIP or member that gives the
  load balancer a reason to be on it) when it exists and is not a provider
  network (:func:`counts_switch`); a counted switch is attached;
* uncounting it (-1) drops the key at zero and detaches the switch, unless
  one of the load balancer's routers still reaches it (deviation B40);
* joining a router attaches the router and its switches of the VIP's IP
  version, and names the router in ``lr_ref`` once (deviation B35: an exact
  name match); a subnet's routers are joined that way.

:class:`Associations` applies the rule to one row's four columns (``ls_refs``,
``switches``, ``routers``, ``lr_ref``) as mutable copies, rebuilt once by
:meth:`Associations.finish`; the row-level functions below are that, one
change at a time. The event handlers' router rules
(:mod:`ovnlb_core.events`) can reuse :func:`counts_switch`,
:func:`associate_lr` and :class:`Associations`.
"""

from __future__ import annotations

from typing import Any

import attrs

from ovnlb_core.formats import vip_version
from ovnlb_core.model import ProtocolRow
from ovnlb_core.topology import Topology, ovn_name

__all__ = ["Associations", "associate_lr", "counts_switch", "vip_associations"]


def counts_switch(topo: Topology, ls: str) -> bool:
    """True when ``ls`` can be counted in ``ls_refs``: it exists and is no provider network."""
    return topo.switch_exists(ls) and not topo.is_provider(ls)


class Associations:
    """One row's ``ls_refs``, switches, routers and ``lr_ref``, changed by the rule.

    k changes cost O(k) plus one rebuild in :meth:`finish` (rebuilding the row per
    change costs O(N) each); :meth:`finish` gives the row that applying each change
    to the row, one by one, would give.
    """

    def __init__(self, row: ProtocolRow) -> None:
        self.row = row
        self._refs: dict[str, int] | None = None
        self._refs_changed = False
        self._switches: set[str] | None = None
        self._routers: set[str] | None = None
        self._lr_ref = row.lr_ref
        self._lr_ref_changed = False

    def _ref_counts(self) -> dict[str, int]:
        if self._refs is None:
            self._refs = self.row.ls_ref_counts()
        return self._refs

    def _switch_set(self) -> set[str]:
        if self._switches is None:
            self._switches = set(self.row.switches)
        return self._switches

    def _router_set(self) -> set[str]:
        if self._routers is None:
            self._routers = set(self.row.routers)
        return self._routers

    def associate_ls(self, topo: Topology, ls: str, extra: int = 0) -> bool:
        """``ls_refs`` +1 (a new key starts at ``1 + extra``) and the switch attached; False
        (nothing changed) when the switch is not counted (:func:`counts_switch`)."""
        if not counts_switch(topo, ls):
            return False
        self.count_ls(ls, extra)
        return True

    def count_ls(self, ls: str, extra: int = 0) -> None:
        """:meth:`associate_ls` again for a switch it counted in this request (the topology
        does not change while a request runs, so only the count moves)."""
        refs = self._ref_counts()
        refs[ls] = refs[ls] + 1 if ls in refs else 1 + extra
        self._refs_changed = True
        self._switch_set().add(ls)

    def disassociate_ls(self, topo: Topology, ls: str) -> None:
        """``ls_refs`` -1; at zero the key goes and the switch is detached, unless one of the
        row's routers reaches it with the VIP's IP version (deviation B40)."""
        refs = self._ref_counts()
        detach = False
        if ls not in refs:
            detach = True
        elif refs[ls] <= 1:
            del refs[ls]
            detach = True
            self._refs_changed = True
        else:
            refs[ls] -= 1
            self._refs_changed = True
        if detach:
            version = vip_version(self.row.vip)
            routers = self._routers if self._routers is not None else self.row.routers
            if not any(ls in topo.switches_of_router(lr, version) for lr in routers):
                self._switch_set().discard(ls)

    def associate_lr(self, topo: Topology, lr: str) -> None:
        """Join an existing router: the router, its switches of the VIP's IP version, and
        ``lr`` appended to ``lr_ref`` unless named there (deviation B35: exact match)."""
        if not topo.router_exists(lr):
            return
        self._switch_set().update(topo.switches_of_router(lr, vip_version(self.row.vip)))
        lr_ref = self._lr_ref
        if lr not in (lr_ref or ()):
            self._lr_ref = (*lr_ref, lr) if lr_ref else (lr,)
            self._lr_ref_changed = True
        self._router_set().add(lr)

    def associate_subnet_routers(self, topo: Topology, subnet_id: str | None) -> None:
        """:meth:`associate_lr` for every router with an interface on the subnet."""
        subnet = topo.subnet(subnet_id)
        if subnet is None:
            return
        for lr in topo.routers_of_subnet(ovn_name(subnet.network_id), subnet.cidr):
            self.associate_lr(topo, lr)

    def changes(self) -> dict[str, Any]:
        """The changed columns, as ``attrs.evolve`` keywords."""
        changes: dict[str, Any] = {}
        if self._refs_changed:
            assert self._refs is not None
            changes["ls_refs"] = tuple(self._refs.items())
        if self._switches is not None:
            changes["switches"] = frozenset(self._switches)
        if self._routers is not None:
            changes["routers"] = frozenset(self._routers)
        if self._lr_ref_changed:
            changes["lr_ref"] = self._lr_ref
        return changes

    def finish(self) -> ProtocolRow:
        """The row with every change applied (the row itself when nothing changed)."""
        changes = self.changes()
        return attrs.evolve(self.row, **changes) if changes else self.row


def associate_lr(row: ProtocolRow, topo: Topology, lr: str) -> ProtocolRow:
    """The row joined to router ``lr`` (:meth:`Associations.associate_lr`, spec 1.8)."""
    links = Associations(row)
    links.associate_lr(topo, lr)
    return links.finish()


def vip_associations(
    row: ProtocolRow, topo: Topology, network_id: str | None, subnet_id: str | None, n_add: int
) -> ProtocolRow:
    """A new row's associations: the VIP subnet's routers, and the VIP network's switch
    counted once plus once per additional VIP (``n_add``)."""
    links = Associations(row)
    links.associate_subnet_routers(topo, subnet_id)
    if network_id:
        links.associate_ls(topo, ovn_name(network_id), n_add)
    return links.finish()
