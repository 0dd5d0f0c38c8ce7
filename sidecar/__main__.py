"""`python -m sidecar`: the same as the `csmc` command."""

import sys

from sidecar.launch import main

sys.exit(main())
