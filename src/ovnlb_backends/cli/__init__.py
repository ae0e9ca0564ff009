"""The ``ovnlb`` command line: argument parsing, one-line errors, exit codes.

``main`` holds the parser and the small commands; ``sync_cmd`` and
``watch_cmd`` the two large ones; ``output`` the ``-f/-c`` formatting;
``demo`` the walkthrough that ``ovnlb demo`` (and many tests) run.
"""

from __future__ import annotations

from ovnlb_backends.cli.main import (
    add_common_args,
    backend_kind,
    build_parser,
    check_tls,
    main,
    open_backend,
)

__all__ = ["add_common_args", "backend_kind", "build_parser", "check_tls", "main", "open_backend"]
