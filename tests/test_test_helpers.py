"""The suite's own helpers: a test that needs a tool skips without it on a developer's machine, never in CI."""
import pytest

from tests.conftest import skip_outside_ci


def test_a_missing_tool_skips_here_and_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="xclip missing in CI"):
        skip_outside_ci("xclip missing")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="xclip missing"):
        skip_outside_ci("xclip missing")
