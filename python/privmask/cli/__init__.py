"""The ``privmask`` command line."""
