"""Where a report was measured: the CPU, its cores, the platform and the Python version."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from privmask.tools.bench.report import Machine

__all__ = ["cpu_name", "describe_machine"]


def cpu_name() -> str:
    """The CPU model, so a pasted report says where it came from."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine() -> Machine:
    """The machine part of a report."""
    return {
        "cpu": cpu_name(),
        "logical_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
