"""``python -m anomalib_simplenet.demo``: the same as ``simplenet-demo``."""

import sys

from anomalib_simplenet.demo import main

sys.exit(main())
