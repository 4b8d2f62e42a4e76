"""``python benches/report.py``: the same as ``python -m privmask.tools.bench``
(kept for muscle memory).

The cases, peers and report live in ``privmask.tools.bench`` so an installed privmask can run them
(``privmask bench``); this wrapper only forwards the arguments (``--quick``, ``--json FILE``...).
"""

import sys

from privmask.tools.bench import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
