"""``python -m privmask.editor SOURCE [--masks FILE] ...``: ``privmask edit`` on its own."""

import sys

from privmask.cli.edit import main

if __name__ == "__main__":
    sys.exit(main())
