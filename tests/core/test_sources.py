"""Sources of Octavia's view: the JSON file and openstacksdk (against a local fake cloud).

Expected objects come from conformance file 02_multi_protocol (Octavia's view
after step 12, of which examples/octavia-view.json is the API rendering).
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_openstack import FakeOpenStack
from ovnlb_backends.cli import main
from ovnlb_backends.service.sources import JsonFileSource, OpenStackSource, SourceError, open_source
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.sync import DesiredLb, SourceFormatError, view_from_api
from paths import ROOT

ROOT = ROOT
EXAMPLE = ROOT / "examples" / "octavia-view.json"
DOC02 = ROOT / "tests" / "conformance" / "02_multi_protocol.json"
LB1 = "e5aff8c0-9670-5640-9b24-c161517ad2b7"
VIP_PORT = "7a4c9033-8f81-5921-8aff-8df562b53895"
SUBNET = "4d185484-6775-5505-a034-bc45d98bf81b"


def example() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return doc


def conformance_view(index: int = 12) -> OctaviaView:
    """Octavia's view of 02 after step ``index`` (deltas applied, DELETED dropped)."""
    doc = json.loads(DOC02.read_text(encoding="utf-8"))
    view = OctaviaView()
    for s in doc["steps"][: index + 1]:
        view.apply_changes(s.get("octavia_changes") or {})
    return view


def test_example_file_is_octavias_view_of_02_step_12() -> None:
    (lb,) = JsonFileSource(EXAMPLE).load_balancers()
    view = conformance_view()
    assert lb.id == LB1
    assert lb.vip_fip is None and lb.additional_vip_fips == ()
    want_lb = view.loadbalancers[LB1]
    for key in ("vip_address", "vip_port_id", "vip_network_id", "vip_subnet_id"):
        assert lb.data[key] == want_lb[key]
    listeners = {li["listener_id"]: li for li in lb.data["listeners"]}
    assert set(listeners) == set(view.listeners)
    for lid, li in view.listeners.items():
        for key in ("protocol", "protocol_port", "default_pool_id", "admin_state_up"):
            assert listeners[lid][key] == li[key], (lid, key)
    pools = {p["pool_id"]: p for p in lb.data["pools"]}
    assert set(pools) == set(view.pools)
    for pid, p in view.pools.items():
        for key in ("protocol", "lb_algorithm", "admin_state_up"):
            assert pools[pid][key] == p[key]
        got = [
            (m["member_id"], m["address"], m["protocol_port"], m["subnet_id"])
            for m in pools[pid]["members"]
        ]
        want = [
            (m["member_id"], m["address"], m["protocol_port"], m["subnet_id"])
            for m in view.members.values()
            if m["pool_id"] == pid
        ]
        assert got == want
        hm = pools[pid]["healthmonitor"]
        want_hm = [h for h in view.healthmonitors.values() if h["pool_id"] == pid]
        assert (hm["healthmonitor_id"] if hm else None) == (
            want_hm[0]["healthmonitor_id"] if want_hm else None
        )
    subnets = JsonFileSource(EXAMPLE).subnets()
    assert subnets[SUBNET].cidr == "10.0.0.0/24"
    assert subnets[SUBNET].network_id == "81a2323d-585e-5d09-b469-affb041ee6a7"


def _cli_shaped(doc: dict[str, Any]) -> dict[str, Any]:
    """The same view as ``openstack ... show -f json`` prints it (related ids as text)."""
    out = copy.deepcopy(doc)
    for lb in out["loadbalancers"]:
        lb["listeners"] = "\n".join(x["id"] for x in lb["listeners"])
        lb["pools"] = "\n".join(x["id"] for x in lb["pools"])
    for li in out["listeners"]:
        li["loadbalancers"] = li["loadbalancers"][0]["id"]
    for p in out["pools"]:
        p["loadbalancers"] = p["loadbalancers"][0]["id"]
    out["members"] = [
        {**m, "pool_id": pid} for pid, members in out["members"].items() for m in members
    ]
    for h in out["healthmonitors"]:
        h["pools"] = h["pools"][0]["id"]
    out["loadbalancers"] = [{"loadbalancer": lb} for lb in out["loadbalancers"]]
    return out


def test_cli_shaped_json_means_the_same() -> None:
    doc = example()
    assert view_from_api(_cli_shaped(doc)) == view_from_api(doc)


def test_other_providers_are_left_out_and_fips_found() -> None:
    doc = example()
    amphora = {**doc["loadbalancers"][0], "id": "11111111-2222-4333-8444-555555555555"}
    amphora["provider"] = "amphora"
    doc["loadbalancers"].append(amphora)
    doc["neutron"]["floatingips"][0]["port_id"] = VIP_PORT
    add_port = "99999999-2222-4333-8444-555555555555"
    doc["loadbalancers"][0]["additional_vips"] = [{"subnet_id": SUBNET, "ip_address": "10.0.0.9"}]
    doc["neutron"]["ports"].append(
        {
            "id": add_port,
            "network_id": "x",
            "fixed_ips": [{"subnet_id": SUBNET, "ip_address": "10.0.0.9"}],
        }
    )
    doc["neutron"]["floatingips"][1]["port_id"] = add_port
    (lb,) = view_from_api(doc)[0]
    assert lb.id == LB1
    assert lb.vip_fip == doc["neutron"]["floatingips"][0]["floating_ip_address"]
    assert lb.additional_vip_fips == (doc["neutron"]["floatingips"][1]["floating_ip_address"],)
    assert lb.data["additional_vips"][0]["port_id"] == add_port
    assert lb.data["additional_vips"][0]["network_id"] == "81a2323d-585e-5d09-b469-affb041ee6a7"


def test_session_persistence_null_timeout_means_default() -> None:
    """The API prints unset fields as null; the provider API leaves them out (spec 1.6:
    absent timeout -> 360)."""
    doc = example()
    doc["pools"][0]["session_persistence"] = {
        "type": "SOURCE_IP",
        "cookie_name": None,
        "persistence_timeout": None,
        "persistence_granularity": None,
    }
    (lb,) = view_from_api(doc)[0]
    assert lb.data["pools"][0]["session_persistence"] == {"type": "SOURCE_IP"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="something/2"), "format"),
        (lambda d: d.update(loadbalancers={"x": 1}), "list"),
        (lambda d: d["listeners"].append({"name": "no id"}), "id"),
        (lambda d: d.update(members=[{"id": "m", "address": "10.0.0.1"}]), "pool_id"),
    ],
)
def test_malformed_views_are_refused(change: Any, message: str, tmp_path: Path) -> None:
    doc = example()
    change(doc)
    with pytest.raises(SourceFormatError, match=message):
        view_from_api(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SourceError, match=message):
        JsonFileSource(path).load_balancers()


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="No such file"):
        JsonFileSource(tmp_path / "missing.json").load_balancers()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SourceError, match="not JSON"):
        JsonFileSource(tmp_path / "bad.json").load_balancers()
    assert isinstance(open_source(str(tmp_path / "x.json")), JsonFileSource)
    assert isinstance(open_source("openstack", cloud="c"), OpenStackSource)


def test_missing_openstacksdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openstack", None)
    with pytest.raises(SourceError, match=r"needs openstacksdk: pip install 'ovnlb\[openstack\]'"):
        OpenStackSource("any").load_balancers()


# ---------------------------------------------------------------------------
# openstacksdk against a local cloud (no mocks of openstacksdk)
# ---------------------------------------------------------------------------


def _cloud_view() -> dict[str, Any]:
    """The example plus an amphora LB and a second, bare ovn LB (so that lists page)."""
    doc = example()
    base = doc["loadbalancers"][0]
    doc["loadbalancers"] += [
        {
            **base,
            "id": "11111111-2222-4333-8444-555555555555",
            "provider": "amphora",
            "listeners": [],
            "pools": [],
        },
        {
            **base,
            "id": "22222222-2222-4333-8444-555555555555",
            "vip_address": "10.0.0.20",
            "listeners": [],
            "pools": [],
        },
        {
            **base,
            "id": "33333333-2222-4333-8444-555555555555",
            "vip_address": "10.0.0.21",
            "listeners": [],
            "pools": [],
        },
    ]
    doc["neutron"]["floatingips"][0]["port_id"] = VIP_PORT
    return doc


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeOpenStack]:
    pytest.importorskip(
        "openstack", reason="openstacksdk is not installed (optional extra 'openstack')"
    )
    with FakeOpenStack(_cloud_view(), max_page=1) as c:
        (tmp_path / "clouds.yaml").write_text(c.clouds_yaml("fake"))
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
        for var in ("OS_CLOUD", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME"):
            monkeypatch.delenv(var, raising=False)
        yield c


def test_openstack_source_reads_the_same_view(cloud: FakeOpenStack) -> None:
    src = OpenStackSource("fake", page_size=50)
    lbs = src.load_balancers()
    want, subnets = view_from_api(_cloud_view())
    assert [lb.id for lb in lbs] == [lb.id for lb in want]
    assert lbs == want
    assert src.subnets() == subnets
    assert lbs[0].vip_fip == _cloud_view()["neutron"]["floatingips"][0]["floating_ip_address"]
    # Keystone v3 password auth, the provider filter, and pages followed by marker.
    (auth,) = cloud.auth_bodies
    assert auth["auth"]["identity"]["methods"] == ["password"]
    paths = [p for m, p in cloud.requests if m == "GET"]
    assert any("lbaas/loadbalancers?" in p and "provider=ovn" in p for p in paths)
    assert any("lbaas/loadbalancers?" in p and "marker=" in p for p in paths)
    assert any("/subnets?" in p and "marker=" in p for p in paths)
    assert any("/members?" in p for p in paths)
    assert not any("11111111-2222" in p for p in paths)  # no member call for the amphora LB


def test_openstack_source_reports_auth_failure(
    cloud: FakeOpenStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "clouds.yaml").write_text(
        cloud.clouds_yaml("fake").replace("password: secret", "password: wrong")
    )
    with pytest.raises(SourceError, match="openstack cloud fake"):
        OpenStackSource("fake").load_balancers()


def test_plan_from_openstack_cli(cloud: FakeOpenStack, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["plan", "--from", "openstack", "--os-cloud", "fake", "--backend", "memory", "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    # The memory NB is empty and has no topology: every ovn LB is to be created.
    assert code == 2
    assert out["status"] == "drift"
    assert out["summary"]["create"] == 3
    assert {x["id"] for x in out["load_balancers"]} == {
        LB1,
        "22222222-2222-4333-8444-555555555555",
        "33333333-2222-4333-8444-555555555555",
    }


def test_desired_lb_view_holds_every_object() -> None:
    (lb,) = JsonFileSource(EXAMPLE).load_balancers()
    view = lb.view()
    want = conformance_view()
    assert set(view.listeners) == set(want.listeners)
    assert set(view.pools) == set(want.pools)
    assert set(view.members) == set(want.members)
    assert set(view.healthmonitors) == set(want.healthmonitors)
    assert isinstance(lb, DesiredLb)
