"""A local OpenStack cloud for tests: Keystone v3, Octavia v2 and Neutron v2 over HTTP.

It serves, on ``127.0.0.1``, the answers the API references document, from
a view document (docs/sync.md): Keystone's version document, password
authentication (``POST /v3/auth/tokens``, token in ``X-Subject-Token``, the
service catalog in the body), the Octavia and Neutron version documents, and
the list calls ``/v2/lbaas/{loadbalancers,listeners,pools,healthmonitors}``,
``/v2/lbaas/pools/{id}/members``, ``/v2.0/{subnets,networks,ports,floatingips}``
with filters (``?field=value``), ``limit``/``marker`` pagination and
``<resource>_links`` (``rel=next``/``previous``). Every request is recorded.
No openstacksdk internals are replaced: the client under test talks HTTP.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "gAAAAAB-fake-token"
PROJECT_ID = "274ddf7e9ba2530a9a3d805ff43b8f5c"
USER_ID = "0b6d2a0e3c0f4b7e8e1d9f2a5c4b3a21"

_OCTAVIA_KINDS = ("loadbalancers", "listeners", "pools", "healthmonitors")
_NEUTRON_KINDS = ("subnets", "networks", "ports", "floatingips")


class FakeOpenStack:
    """The cloud; use as a context manager. ``max_page`` caps every page (server side)."""

    def __init__(
        self, view: Mapping[str, Any], *, max_page: int = 2, roles: Sequence[str] = ("admin",)
    ) -> None:
        self.view = view
        self.max_page = max_page
        #: The roles of the issued token (a project member sees only its project).
        self.roles = list(roles)
        self.requests: list[tuple[str, str]] = []
        self.auth_bodies: list[Any] = []
        handler = type("Handler", (_Handler,), {"cloud": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def auth_url(self) -> str:
        return f"{self.base}/identity/v3"

    def clouds_yaml(self, name: str = "fake") -> str:
        """A clouds.yaml naming this cloud."""
        return (
            "clouds:\n"
            f"  {name}:\n"
            "    auth:\n"
            f"      auth_url: {self.auth_url}\n"
            "      username: admin\n"
            "      password: secret\n"
            "      project_name: admin\n"
            "      user_domain_name: Default\n"
            "      project_domain_name: Default\n"
            "    region_name: RegionOne\n"
            "    identity_api_version: 3\n"
        )

    def __enter__(self) -> FakeOpenStack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    # -- data ------------------------------------------------------------------------

    def items(self, service: str, kind: str, pool_id: str | None = None) -> list[Mapping[str, Any]]:
        if service == "octavia":
            if kind == "members":
                members = self.view.get("members") or {}
                return list(members.get(pool_id, [])) if isinstance(members, Mapping) else []
            return list(self.view.get(kind) or [])
        neutron = self.view.get("neutron") or {}
        return list(neutron.get(kind) or [])

    def catalog(self) -> list[dict[str, Any]]:
        def service(kind: str, name: str, path: str) -> dict[str, Any]:
            return {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, name).hex,
                "type": kind,
                "name": name,
                "endpoints": [
                    {
                        "id": uuid.uuid5(uuid.NAMESPACE_URL, name + iface).hex,
                        "interface": iface,
                        "region": "RegionOne",
                        "region_id": "RegionOne",
                        "url": f"{self.base}{path}",
                    }
                    for iface in ("public", "internal", "admin")
                ],
            }

        return [
            service("identity", "keystone", "/identity"),
            service("load-balancer", "octavia", "/load-balancer"),
            service("network", "neutron", "/networking"),
        ]


def _matches(item: Mapping[str, Any], filters: Mapping[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "fixed_ips":
            # Neutron: ?fixed_ips=ip_address=10.0.0.3 (and/or subnet_id=...)
            for v in values:
                field, _, want = v.partition("=")
                if not any(str(f.get(field)) == want for f in item.get("fixed_ips") or ()):
                    return False
            continue
        if str(item.get(key)) not in values and not (item.get(key) is None and values == ["None"]):
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    cloud: FakeOpenStack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, code: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.cloud.requests.append(("POST", self.path))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if urlsplit(self.path).path.rstrip("/") != "/identity/v3/auth/tokens":
            self._send(404, {"error": {"code": 404, "message": "not found"}})
            return
        self.cloud.auth_bodies.append(body)
        password = body.get("auth", {}).get("identity", {}).get("password", {})
        if password.get("user", {}).get("password") != "secret":
            self._send(
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "The request you have made requires authentication.",
                        "title": "Unauthorized",
                    }
                },
            )
            return
        token = {
            "token": {
                "methods": ["password"],
                "expires_at": "2999-01-01T00:00:00.000000Z",
                "issued_at": "2024-05-02T10:00:00.000000Z",
                "audit_ids": ["3T2dc1CGQxyJsHdDu1xkcw"],
                "user": {
                    "id": USER_ID,
                    "name": "admin",
                    "domain": {"id": "default", "name": "Default"},
                    "password_expires_at": None,
                },
                "project": {
                    "id": PROJECT_ID,
                    "name": "admin",
                    "domain": {"id": "default", "name": "Default"},
                },
                "roles": [
                    {"id": uuid.uuid5(uuid.NAMESPACE_OID, r).hex, "name": r}
                    for r in self.cloud.roles
                ],
                "is_domain": False,
                "catalog": self.cloud.catalog(),
            }
        }
        self._send(201, token, {"X-Subject-Token": TOKEN})

    def do_GET(self) -> None:
        self.cloud.requests.append(("GET", self.path))
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        query = parse_qs(parts.query)
        base = self.cloud.base
        if path == "/identity":
            self._send(300, {"versions": {"values": [_keystone_version(base)]}})
            return
        if path == "/identity/v3":
            self._send(200, {"version": _keystone_version(base)})
            return
        if path == "/load-balancer":
            self._send(
                200,
                {
                    "versions": [
                        {
                            "id": "v2.0",
                            "status": "SUPPORTED",
                            "updated": "2016-12-11T00:00:00Z",
                            "links": [{"href": f"{base}/load-balancer/v2.0", "rel": "self"}],
                        },
                        {
                            "id": "v2.27",
                            "status": "CURRENT",
                            "updated": "2023-05-17T00:00:00Z",
                            "links": [{"href": f"{base}/load-balancer/v2", "rel": "self"}],
                        },
                    ]
                },
            )
            return
        if path == "/networking":
            self._send(
                200,
                {
                    "versions": [
                        {
                            "id": "v2.0",
                            "status": "CURRENT",
                            "links": [{"href": f"{base}/networking/v2.0/", "rel": "self"}],
                        }
                    ]
                },
            )
            return
        if self.headers.get("X-Auth-Token") != TOKEN:
            self._send(401, {"error": {"code": 401, "message": "Unauthorized"}})
            return
        for prefix, service, kinds in (
            ("/load-balancer/v2/lbaas/", "octavia", _OCTAVIA_KINDS),
            ("/load-balancer/v2.0/lbaas/", "octavia", _OCTAVIA_KINDS),
            ("/networking/v2.0/", "neutron", _NEUTRON_KINDS),
        ):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :].split("/")
            if len(rest) == 1 and rest[0] in kinds:
                self._list(service, rest[0], None, path, query)
                return
            if (
                service == "octavia"
                and len(rest) == 3
                and rest[0] == "pools"
                and (rest[2] == "members")
            ):
                if not any(p["id"] == rest[1] for p in self.cloud.items("octavia", "pools")):
                    self._send(404, {"faultcode": "Client", "faultstring": "Pool not found"})
                    return
                self._list(service, "members", rest[1], path, query)
                return
        self._send(404, {"error": {"code": 404, "message": f"no route {path}"}})

    def _list(
        self,
        service: str,
        kind: str,
        pool_id: str | None,
        path: str,
        query: Mapping[str, Sequence[str]],
    ) -> None:
        filters = {k: list(v) for k, v in query.items() if k not in ("limit", "marker")}
        items = [i for i in self.cloud.items(service, kind, pool_id) if _matches(i, filters)]
        start = 0
        if "marker" in query:
            ids = [i["id"] for i in items]
            marker = query["marker"][0]
            if marker not in ids:
                self._send(404, {"faultcode": "Client", "faultstring": f"marker {marker}"})
                return
            start = ids.index(marker) + 1
        limit = int(query["limit"][0]) if "limit" in query else self.cloud.max_page
        limit = min(limit, self.cloud.max_page)
        page = items[start : start + limit]
        links = []
        plain = [(k, v) for k, vs in filters.items() for v in vs]
        if start + limit < len(items) and page:
            links.append(
                {
                    "href": f"{self.cloud.base}{path}?"
                    + urlencode([*plain, ("limit", limit), ("marker", page[-1]["id"])]),
                    "rel": "next",
                }
            )
        if start > 0 and page:
            links.append(
                {
                    "href": f"{self.cloud.base}{path}?"
                    + urlencode(
                        [
                            *plain,
                            ("limit", limit),
                            ("marker", page[0]["id"]),
                            ("page_reverse", "True"),
                        ]
                    ),
                    "rel": "previous",
                }
            )
        body: dict[str, Any] = {kind: page}
        if links:
            body[f"{kind}_links"] = links
        self._send(200, body)


def _keystone_version(base: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/identity/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }
