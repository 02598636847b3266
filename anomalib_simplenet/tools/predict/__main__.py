"""``python -m anomalib_simplenet.tools.predict``: score images with an exported model (see the package)."""

import sys

from anomalib_simplenet.tools.predict.cli import main

if __name__ == "__main__":
    sys.exit(main())
