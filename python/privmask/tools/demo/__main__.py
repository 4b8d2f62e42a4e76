"""``python -m privmask.tools.demo``: see :mod:`privmask.tools.demo`."""

import sys

from privmask.tools.demo.run import main

if __name__ == "__main__":
    sys.exit(main())
