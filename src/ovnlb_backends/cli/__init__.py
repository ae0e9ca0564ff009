"""The ``ovnlb`` command line: argument parsing, one-line errors, exit codes.

``main`` holds the parser, the shared options and the small commands;
``sync_cmd`` holds ``plan``/``sync``/``check`` (``plan_output`` prints their
plans), ``show_cmd`` ``show``, ``watch_cmd`` ``watch``; ``output`` the
``-f/-c`` formatting; ``demo`` the walkthrough that ``ovnlb demo`` (and many
tests) run.
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
