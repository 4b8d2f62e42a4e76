"""The engine: frames (numpy or PyAV planes), per-frame regions, the per-frame planner and
``apply``, all on top of the Rust core (:mod:`privmask._native`)."""
