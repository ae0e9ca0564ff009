"""One exception family: every ovnlb exception is an OvnlbError declared in ovnlb_core.errors."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import ovnlb_backends
import ovnlb_core
from ovnlb_core import errors
from ovnlb_core.errors import BackendError, OvnlbError, TryAgain


def _modules() -> list[str]:
    names = []
    for pkg in (ovnlb_core, ovnlb_backends):
        for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
            names.append(info.name)
    return names


def test_every_exception_class_is_declared_once_in_the_errors_module() -> None:
    found = {}
    for name in _modules():
        module = importlib.import_module(name)
        for _attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("ovnlb")
            ):
                found[value.__qualname__] = value.__module__
    assert found, "no ovnlb exception found"
    assert set(found.values()) == {"ovnlb_core.errors"}, found
    assert set(found) == set(errors.__all__)


def test_every_exception_is_an_ovnlb_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), OvnlbError), name


def test_old_import_paths_name_the_same_classes() -> None:
    from ovnlb_backends import base, sandbox
    from ovnlb_backends.service import driver, sources, sync
    from ovnlb_core import rawops
    from ovnlb_core import sync as core_sync

    assert base.BackendError is BackendError and base.TryAgain is TryAgain
    assert driver.RetriesExhausted is errors.RetriesExhausted
    assert sandbox.SandboxUnavailable is errors.SandboxUnavailable
    assert sandbox.SandboxError is errors.SandboxError
    assert sources.SourceError is errors.SourceError
    assert sync.SyncRefused is errors.SyncRefused
    assert rawops.RawOpError is errors.RawOpError
    assert core_sync.SourceFormatError is errors.SourceFormatError
    # The builtins they used to derive from still catch them.
    assert issubclass(errors.RawOpError, ValueError)
    assert issubclass(errors.SandboxUnavailable, RuntimeError)
