"""Shared test set-up: hypothesis profiles chosen by HYPOTHESIS_PROFILE (dev, or ci in CI)."""

from __future__ import annotations

import os

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
