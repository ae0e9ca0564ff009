"""Test certificates: a CA and a server and client certificate signed by it (openssl).

openssl is required where OVN is (CI, ``OVNLB_REQUIRE_OVN=1``): a missing
binary fails the test there instead of skipping it (see ``conftest.ovn_or_skip``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import ovn_or_skip
from ovnlb_backends.sandbox import SandboxUnavailable


def _need_openssl() -> None:
    if shutil.which("openssl") is None:
        raise SandboxUnavailable("openssl not found (apt-get install openssl)")


def make_certs(d: Path) -> dict[str, str]:
    """Certificates in ``d`` (EC keys: fast to make); the client's ``ca``, ``key``, ``cert``."""
    ovn_or_skip(_need_openssl)
    d.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ca")
    for who in ("server", "client"):
        run("req", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN={who}")
        run(
            "x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{who}.pem", "-days", "2",
        )  # fmt: skip
    return {
        k: str(d / f) for k, f in (("ca", "ca.pem"), ("key", "client.key"), ("cert", "client.pem"))
    }
