"""Where Octavia's view comes from: a JSON file, or the Octavia and Neutron APIs.

Every source answers the same two questions (:class:`OctaviaSource`): the
load balancers of provider ``ovn`` with their children, and the subnets
(Neutron facts the requests need). Both sources gather the same document of
Octavia API v2 / Neutron API v2 objects (docs/sync.md) and convert it with
:func:`ovnlb_core.sync.view_from_api`, so they cannot disagree on meaning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from ovnlb_core.errors import SourceError
from ovnlb_core.sync import DesiredLb, SourceFormatError, view_from_api
from ovnlb_core.topology import Subnet
from ovnlb_core.viewcheck import check_view

__all__ = [
    "JsonFileSource",
    "OctaviaSource",
    "OpenStackSource",
    "SourceError",
    "open_source",
]


class OctaviaSource(Protocol):
    """Octavia's view of the load balancers, plus the Neutron facts the core needs."""

    def load_balancers(self) -> list[DesiredLb]:
        """Every load balancer of provider ``ovn`` with its listeners, pools, members,
        health monitors and VIP floating IPs."""
        ...

    def subnets(self) -> dict[str, Subnet]:
        """Neutron subnets by id (network and CIDR)."""
        ...

    def describe(self) -> str:
        """Where the view comes from, for messages."""
        ...

    def warnings(self) -> list[str]:
        """Harmless oddities of the view (objects that belong to nothing, ...)."""
        ...


class _DocumentSource:
    """A source whose view is one API document, converted on first use."""

    _view: tuple[list[DesiredLb], dict[str, Subnet]] | None = None
    _warnings: tuple[str, ...] = ()

    def document(self) -> Mapping[str, Any]:
        raise NotImplementedError

    def _load(self) -> tuple[list[DesiredLb], dict[str, Subnet]]:
        if self._view is None:
            doc = self.document()
            try:
                self._view = view_from_api(doc)
            except SourceFormatError as exc:
                raise SourceError(f"{self.describe()}: {exc}") from exc
            self._warnings = check_view(doc).warnings
        return self._view

    def warnings(self) -> list[str]:
        """Harmless oddities of the view (objects that belong to nothing, ...)."""
        self._load()
        return list(self._warnings)

    def load_balancers(self) -> list[DesiredLb]:
        """Every ``ovn`` load balancer of the view."""
        return list(self._load()[0])

    def subnets(self) -> dict[str, Subnet]:
        """Neutron subnets by id."""
        return dict(self._load()[1])

    def describe(self) -> str:
        raise NotImplementedError


class JsonFileSource(_DocumentSource):
    """Octavia's view from a JSON file in the format of docs/sync.md."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def document(self) -> Mapping[str, Any]:
        """The file's JSON object."""
        try:
            with self.path.open(encoding="utf-8") as f:
                doc = json.load(f)
        except OSError as exc:
            raise SourceError(f"{self.path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{self.path}: not UTF-8 text (byte {exc.start}); JSON views must be UTF-8"
            ) from exc
        except json.JSONDecodeError as exc:
            raise SourceError(f"{self.path}: not JSON: {exc}") from exc
        if not isinstance(doc, Mapping):
            raise SourceError(f"{self.path}: the view must be a JSON object")
        return doc

    def describe(self) -> str:
        """The file name."""
        return str(self.path)


def _import_openstack() -> Any:
    try:
        import openstack
    except ImportError as exc:
        raise SourceError(
            "--from openstack needs openstacksdk: pip install 'ovnlb[openstack]' "
            f"(or pip install openstacksdk); import failed: {exc}"
        ) from exc
    return openstack


class OpenStackSource(_DocumentSource):
    """Octavia's view from the Octavia v2 and Neutron v2 APIs through openstacksdk.

    The cloud comes from ``clouds.yaml`` (``cloud``) or from ``OS_*``
    environment variables; ``connection`` takes an existing
    ``openstack.connection.Connection``. Lists are read page by page
    (``<resource>_links`` with ``rel=next``, ``limit``/``marker``).
    """

    def __init__(
        self,
        cloud: str | None = None,
        *,
        connection: Any = None,
        page_size: int = 500,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.cloud = cloud
        self._conn = connection
        self.page_size = page_size
        self.connect_options = dict(connect_options or {})

    def describe(self) -> str:
        """The cloud name."""
        return f"openstack cloud {self.cloud or '(OS_* environment)'}"

    def connection(self) -> Any:
        """The openstacksdk connection (made on first use)."""
        if self._conn is None:
            openstack = _import_openstack()
            try:
                self._conn = openstack.connect(cloud=self.cloud, **self.connect_options)
            except Exception as exc:
                raise SourceError(f"{self.describe()}: cannot connect: {exc}") from exc
        return self._conn

    #: Roles whose holders see the load balancers of every project (Octavia's
    #: RBAC: ``admin``, and the global roles of its advanced policy).
    ALL_PROJECT_ROLES = frozenset({"admin", "load-balancer_admin", "load-balancer_global_observer"})

    def scope_problem(self) -> str | None:
        """Why these credentials may not see every project's load balancers (None: they do).

        Octavia answers a project-scoped, non-admin token with that project's
        load balancers only; a sync would then delete every other project's.
        """
        conn = self.connection()
        try:
            access = conn.session.auth.get_access(conn.session)
            roles = set(getattr(access, "role_names", None) or ())
            project = getattr(access, "project_name", None) or getattr(access, "project_id", "")
            system = bool(getattr(access, "system_scoped", False))
        except Exception as exc:
            return f"{self.describe()}: cannot tell the token's roles ({type(exc).__name__}: {exc})"
        if system or roles & self.ALL_PROJECT_ROLES:
            return None
        return (
            f"{self.describe()}: the credentials (project {project!r}, roles "
            f"{', '.join(sorted(roles)) or 'none'}) are not admin: Octavia lists only that "
            "project's load balancers"
        )

    def _list(
        self, proxy: Any, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> list[Mapping[str, Any]]:
        """Every item of a list call, following ``<key>_links`` ``rel=next`` pages."""
        query: dict[str, Any] | None = {**(params or {}), "limit": self.page_size}
        url: str | None = path
        seen: set[str] = set()
        items: list[Mapping[str, Any]] = []
        while url is not None:
            if url in seen:
                raise SourceError(f"{self.describe()}: {path}: pagination loops at {url}")
            seen.add(url)
            resp = proxy.get(url, params=query)
            if resp.status_code >= 400:
                raise SourceError(
                    f"{self.describe()}: GET {path}: HTTP {resp.status_code}: {resp.text[:200]}"
                )
            data = resp.json()
            page = data.get(key)
            if not isinstance(page, list):
                raise SourceError(f"{self.describe()}: GET {path}: no {key!r} list in the answer")
            items += page
            url = next(
                (
                    link.get("href")
                    for link in data.get(f"{key}_links") or ()
                    if link.get("rel") == "next" and link.get("href")
                ),
                None,
            )
            query = None  # the next link carries the query (marker, limit, filters)
        return items

    def document(self) -> Mapping[str, Any]:
        """The API answers, gathered into one view document."""
        conn = self.connection()
        try:
            lb_api, net_api = conn.load_balancer, conn.network
            lbs = self._list(lb_api, "/lbaas/loadbalancers", "loadbalancers", {"provider": "ovn"})
            lbs = [lb for lb in lbs if lb.get("provider", "ovn") == "ovn"]
            lb_ids = {lb["id"] for lb in lbs}

            def mine(obj: Mapping[str, Any]) -> bool:
                return any(x.get("id") in lb_ids for x in obj.get("loadbalancers") or ())

            listeners = [x for x in self._list(lb_api, "/lbaas/listeners", "listeners") if mine(x)]
            pools = [x for x in self._list(lb_api, "/lbaas/pools", "pools") if mine(x)]
            pool_ids = {p["id"] for p in pools}
            hms = [
                h
                for h in self._list(lb_api, "/lbaas/healthmonitors", "healthmonitors")
                if any(p.get("id") in pool_ids for p in h.get("pools") or ())
            ]
            members = {
                p["id"]: self._list(lb_api, f"/lbaas/pools/{quote(p['id'])}/members", "members")
                for p in pools
            }
            subnets = self._list(net_api, "/subnets", "subnets")
            fips = self._list(net_api, "/floatingips", "floatingips")
            ports: list[Mapping[str, Any]] = []
            for lb in lbs:
                for add in lb.get("additional_vips") or ():
                    if add.get("port_id") or not add.get("ip_address"):
                        continue
                    ports += self._list(
                        net_api, "/ports", "ports", {"fixed_ips": f"ip_address={add['ip_address']}"}
                    )
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"{self.describe()}: {type(exc).__name__}: {exc}") from exc
        return {
            "loadbalancers": lbs,
            "listeners": listeners,
            "pools": pools,
            "members": members,
            "healthmonitors": hms,
            "neutron": {"subnets": subnets, "floatingips": fips, "ports": ports},
        }


def open_source(spec: str, *, cloud: str | None = None) -> OctaviaSource:
    """``openstack`` -> :class:`OpenStackSource`; anything else is a JSON file path."""
    if spec == "openstack":
        return OpenStackSource(cloud)
    return JsonFileSource(spec)
