"""The fast JSON parser is installed where a connection is made, not on import."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from ovnlb_backends.idl import jsonparser


def test_importing_the_backends_changes_no_parser() -> None:
    code = (
        "import ovs.json; before = (ovs.json.PARSER, ovs.json.Parser.__dict__.get('__new__'))\n"
        "import ovnlb_backends.idl, ovnlb_backends.service.watch, ovnlb_backends.cli\n"
        "after = (ovs.json.PARSER, ovs.json.Parser.__dict__.get('__new__'))\n"
        "print(before == after)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"OVNLB_JSON_PARSER": "stdlib"},
    )
    assert out.stdout.strip() == "True"


@pytest.fixture
def restore_parser() -> Iterator[None]:
    before = jsonparser.json_parser_info().split()[0]
    yield
    jsonparser.install_json_parser(before)


def test_ensure_keeps_an_explicit_choice(
    restore_parser: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    jsonparser.install_json_parser("python")
    monkeypatch.setenv("OVNLB_JSON_PARSER", "stdlib")
    assert jsonparser.ensure_json_parser().startswith("python")
    assert jsonparser.json_parser_info().startswith("python")


def test_bad_environment_falls_back_to_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    code = (
        "from ovnlb_backends.idl import jsonparser\n"
        "print(jsonparser.ensure_json_parser().split()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"OVNLB_JSON_PARSER": "fast"},
    )
    assert out.stdout.strip() in ("c", "stdlib")
    assert "ignoring OVNLB_JSON_PARSER='fast'" in out.stderr
