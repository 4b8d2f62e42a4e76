"""``python -m privmask``: the ``privmask`` command (see :mod:`privmask.cli`)."""

from privmask.cli import run

if __name__ == "__main__":
    run()
