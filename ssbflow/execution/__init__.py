"""Execution: where flows run and where their results go.

``ssbflow.execution.runner``
    `run_flow` (run_locally with the configured store), `FlowFailedError`, `tuned_gc`;
``ssbflow.execution.store``
    `get_jobstore` (the one results store), `describe_store`;
``ssbflow.execution.sqlite_store``
    `SQLiteStore`, the embedded maggma store;
``ssbflow.execution.fw``
    the FireWorks layer (LaunchPad, submission, workers, reruns).
"""
