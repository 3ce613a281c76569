"""Test isolation: every test gets its own results store, working directory and settings."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def isolated_ssbflow(tmp_path, monkeypatch):
    """Point ssbflow at a temporary data dir and cwd; ignore any user config file."""
    data_dir = tmp_path / "ssbflow-data"
    monkeypatch.setenv("SSBFLOW_DATA_DIR", str(data_dir))
    # an empty settings file: an explicitly named file must exist (issue 10)
    (tmp_path / "no-config.yaml").write_text("")
    monkeypatch.setenv("SSBFLOW_CONFIG_FILE", str(tmp_path / "no-config.yaml"))
    monkeypatch.delenv("SSBFLOW_MONGODB_URI", raising=False)
    monkeypatch.delenv("SSBFLOW_LAUNCHPAD_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    return data_dir


@pytest.fixture
def settings(isolated_ssbflow):
    """Settings bound to the temporary data dir."""
    from ssbflow.settings import get_settings

    return get_settings()


@pytest.fixture
def jobstore(settings):
    """The temporary embedded JobStore (connected)."""
    from ssbflow.execution.store import get_jobstore

    store = get_jobstore(settings)
    store.connect()
    yield store
    store.close()


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit_code, stdout, stderr)."""
    from ssbflow.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return _run
