"""nox sessions: tests, lint, typecheck, bench (the OVN Debian packages must be installed)."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, real ovsdb-server included."""
    session.install("-e", ".[dev]")
    session.env["OVNLB_REQUIRE_OVN"] = "1"
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src and tests."""
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks; writes benchmarks/RESULTS.md."""
    session.install("-e", ".[dev]", "matplotlib")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Hypothesis at 10,000 examples per test: hostile requests and corrupted rows."""
    session.install("-e", ".[dev]")
    session.env["HYPOTHESIS_PROFILE"] = "fuzz"
    session.run(
        "pytest",
        "-q",
        "tests/core/test_invalid_requests.py",
        "tests/core/test_corrupt_rows.py",
        *session.posargs,
    )
