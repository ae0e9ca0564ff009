"""Shared fixtures: real ``ovsdb-server`` processes (no OVSDB mocks).

The processes are managed by :class:`ovnlb_backends.sandbox.OvnSandbox`. When
the OVN binaries are missing, tests that need them are skipped with the
reason, except in CI (``CI=true``) or with ``OVNLB_REQUIRE_OVN=1``, where they
fail: a CI run must never pass by skipping its integration tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings

from ovnlb_backends.sandbox import OvnSandbox, SandboxUnavailable

# A quick default for the test run; HYPOTHESIS_PROFILE=fuzz (nox -s fuzz) for 10,000
# examples per property. Tests with their own @settings(max_examples=...) keep theirs.
settings_profiles = {"default": 40, "fuzz": 10_000}
for _name, _n in settings_profiles.items():
    settings.register_profile(_name, max_examples=_n, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

T = TypeVar("T")


def ovn_required() -> bool:
    """True when a missing OVN installation must fail the tests instead of skipping them."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("OVNLB_REQUIRE_OVN") == "1"


def ovn_or_skip(start: Callable[[], T]) -> T:
    """``start()``; skip the test (or fail it, see above) when OVN is not installed."""
    try:
        return start()
    except SandboxUnavailable as exc:
        if ovn_required():
            pytest.fail(f"OVN is required here (CI / OVNLB_REQUIRE_OVN=1): {exc}", pytrace=False)
        pytest.skip(f"OVN binaries not installed: {exc}")


def start_sandbox(directory: Path, **kwargs: Any) -> OvnSandbox:
    """An :class:`OvnSandbox` in ``directory`` (see :func:`ovn_or_skip`)."""
    return ovn_or_skip(lambda: OvnSandbox(directory, **kwargs))


@pytest.fixture
def nb_server(tmp_path: Path) -> Iterator[OvnSandbox]:
    """A fresh, empty NB ``ovsdb-server`` on a unix socket (``.nb_remote``), per test."""
    sandbox = start_sandbox(tmp_path / "ovn")
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def ovn_northd(tmp_path: Path) -> Iterator[OvnSandbox]:
    """NB + SB ``ovsdb-server`` and ``ovn-northd`` (``.nb_remote``, ``.sb_remote``), per test."""
    sandbox = start_sandbox(tmp_path / "ovn", with_northd=True)
    try:
        yield sandbox
    finally:
        sandbox.stop()
