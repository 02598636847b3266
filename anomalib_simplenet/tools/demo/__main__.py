"""``python -m anomalib_simplenet.tools.demo``: the same as ``simplenet-demo``."""

import sys

from anomalib_simplenet.tools.demo.cli import main

if __name__ == "__main__":
    sys.exit(main())
