"""``python -m privmask``: the ``privmask`` command (see :mod:`privmask.cli.main`)."""

from privmask.cli.main import run

if __name__ == "__main__":
    run()
