"""Execution: where flows run and where their results go.

``ssbflow.execution.runner``
    `run_flow` (run_locally with the configured store), `run_and_load` (run, then load the
    summary document: the one way every command does it), `FlowFailedError`, `tuned_gc`;
``ssbflow.execution.store``
    `get_jobstore` (the one results store), `load_output`, `describe_store`;
``ssbflow.execution.sqlite_store``
    `SQLiteStore`, the embedded maggma store;
``ssbflow.execution.results`` / ``ssbflow.execution.queries``
    queries of stored results (for the CLI; for jobs that look up other results);
``ssbflow.execution.fw``
    the FireWorks layer (re-exports ``launchpad``, ``submit``, ``worker``, ``status``);
``ssbflow.execution._compat``
    the only module that touches FireWorks, mongomock or jobflow internals; each use is
    checked by ``tests/test_library_contracts.py``.
"""
