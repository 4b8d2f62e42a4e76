"""Not API: ``privmask bench`` and ``make demo``."""
