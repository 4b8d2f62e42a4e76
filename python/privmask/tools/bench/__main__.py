"""``python -m privmask.tools.bench``: ``privmask bench`` without the rest of the command line."""

from privmask.tools.bench import main

if __name__ == "__main__":
    raise SystemExit(main())
