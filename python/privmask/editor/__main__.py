"""``python -m privmask.editor SOURCE [--masks FILE] ...``: ``privmask edit`` on its own."""

import sys

from privmask.editor.command import main

if __name__ == "__main__":
    sys.exit(main())
