"""``python -m ovnlb_backends.cli``: the ``ovnlb`` command without its script."""

import sys

from ovnlb_backends.cli.main import main

sys.exit(main())
