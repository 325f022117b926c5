"""`python -m veil.bench ops ...` (same as `veil bench ops ...`; also shows `--help`)."""

import sys

from veil.bench import main

sys.exit(main(sys.argv[1:]))
