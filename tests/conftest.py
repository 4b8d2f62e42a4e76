"""Shared test set-up: hypothesis profiles chosen by HYPOTHESIS_PROFILE (dev, or ci in CI)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


if os.environ.get("PRIVMASK_CI_REQUIRES_SYSTEM") == "1":
    # CI installs every package the suite drives (ffmpeg, Chromium, the detector models, ...):
    # there a skip means a missing install step, so it fails instead of passing quietly.
    import pytest

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
        outcome = yield
        report = outcome.get_result()  # type: ignore[attr-defined]
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            report.outcome = "failed"
            report.longrepr = f"skipped in CI, where nothing may be missing: {reason}"
        return report


@__import__("pytest").fixture(autouse=True)
def _private_review_folder(tmp_path_factory: object, monkeypatch: object) -> None:
    """Redaction's unmasked review sheets go to a per-test folder, not the user's cache."""
    folder = tmp_path_factory.mktemp("review") / "sheets"  # type: ignore[attr-defined]
    monkeypatch.setenv("PRIVMASK_REVIEW_DIR", str(folder))  # type: ignore[attr-defined]


EXIT_GRACE_S = 60


def pytest_unconfigure(config: object) -> None:
    """After the last test, the interpreter must exit: once, a CI run printed its summary and then
    hung until CI's limit, with nothing to say what held it. If exiting takes longer than
    ``EXIT_GRACE_S``, every thread's stack and the live child processes are printed and the
    process ends with the status pytest decided (the tests' verdict stands; the report says
    what held the exit, so it can be fixed where it is)."""
    import faulthandler
    import sys
    import threading

    status = _EXIT_STATUS.get("status")

    def watchdog() -> None:
        time.sleep(EXIT_GRACE_S)
        held = [t.name for t in threading.enumerate() if not t.daemon and t.is_alive()]
        print(
            f"\nconftest: pytest finished but the interpreter has not exited after "
            f"{EXIT_GRACE_S} s; non-daemon threads: {held}; child processes: {_children()}",
            file=sys.stderr,
            flush=True,
        )
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(int(status) if status is not None else 1)

    threading.Thread(target=watchdog, name="conftest-exit-watchdog", daemon=True).start()
    # Should the hang be past the point where Python threads run, the C-level dump still fires.
    faulthandler.dump_traceback_later(EXIT_GRACE_S + 30, exit=True)


_EXIT_STATUS: dict[str, int] = {}


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    _EXIT_STATUS["status"] = int(exitstatus)


def _children() -> list[str]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid():
                found.append(f"{stat.parent.name}: {(stat.parent / 'cmdline').read_bytes()!r}")
        except (OSError, ValueError, IndexError):
            continue
    return found
