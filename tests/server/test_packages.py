"""Each package says what it holds and exports its public API with ``__all__``."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ovnlb_backends
import ovnlb_core


@pytest.mark.parametrize("package", [ovnlb_core, ovnlb_backends])
def test_every_exported_name_resolves(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert names and len(set(names)) == len(names)
    for name in names:
        value = getattr(package, name)
        assert not isinstance(value, type(sys)), f"{name} is a module"
    assert (package.__doc__ or "").strip()


def test_importing_a_backend_module_loads_neither_ovs_nor_the_other_backends() -> None:
    code = (
        "import sys, ovnlb_backends.memory\n"
        "print(sorted(m for m in sys.modules if m == 'ovs' or m in "
        "('ovnlb_backends.idl', 'ovnlb_backends.nbctl', 'ovnlb_backends.sandbox')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
