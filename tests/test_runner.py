"""`run_and_load` / `FlowOutcome`: one way to run a flow and load its summary."""

from __future__ import annotations

from jobflow import Flow, job

from ssbflow.execution.runner import FlowFailedError, FlowOutcome, run_and_load


@job
def energy(x: float) -> float:
    """A "calculation": 2 x eV."""
    return 2.0 * x


@job
def summarise(energies: list[float]) -> dict:
    """A summary document of the energies (their sum and count)."""
    return {"result_type": "runner-test", "total_eV": sum(energies), "n": len(energies)}


@job
def broken(message: str) -> float:
    """A job that raises."""
    raise RuntimeError(message)


def test_tiny_flow_summary_is_loaded(settings):
    a, b = energy(1.5), energy(2.0)
    summary = summarise([a.output, b.output])
    outcome = run_and_load(Flow([a, b, summary]), settings, [summary.uuid], progress=False)
    assert isinstance(outcome, FlowOutcome)
    assert outcome.failure is None
    assert outcome.uuid == summary.uuid
    assert outcome.document == {"result_type": "runner-test", "total_eV": 7.0, "n": 2}


def test_failing_side_job_returns_both_the_failure_and_the_summary(settings):
    side = broken("side branch broke")
    side.name = "side check"
    a = energy(3.0)
    summary = summarise([a.output])
    outcome = run_and_load(Flow([side, a, summary]), settings, [summary.uuid], progress=False)
    assert outcome.document is not None and outcome.document["total_eV"] == 6.0
    assert outcome.uuid == summary.uuid
    assert isinstance(outcome.failure, FlowFailedError)
    assert outcome.failure.job_name == "side check"
    assert outcome.failure.reason == "RuntimeError: side branch broke"
    assert outcome.reason == "job 'side check' failed: RuntimeError: side branch broke"


def test_summary_missing_after_its_input_failed_gives_none_and_the_failure(settings):
    bad = broken("no energy")
    bad.name = "energy job"
    summary = summarise([bad.output])
    outcome = run_and_load(Flow([bad, summary]), settings, [summary.uuid], progress=False)
    assert outcome.document is None and outcome.uuid is None
    assert outcome.failure is not None and outcome.failure.job_name == "energy job"
    assert outcome.reason == "job 'energy job' failed: RuntimeError: no energy"


def test_summary_never_stored_without_failure_says_so(settings):
    a = energy(1.0)
    outcome = run_and_load(a, settings, ["0" * 32], progress=False)
    assert outcome == FlowOutcome(document=None, uuid=None, failure=None)
    assert outcome.reason == "the summary was not produced"


def test_first_stored_summary_in_order_of_preference(settings):
    """A refined summary that failed falls back to the ML summary it refines."""
    ml = summarise([1.0, 2.0])
    refined = broken("DFT did not converge")
    refined.name = "refine"
    outcome = run_and_load(Flow([ml, refined]), settings, [refined.uuid, ml.uuid], progress=False)
    assert outcome.uuid == ml.uuid
    assert outcome.document["total_eV"] == 3.0
    assert outcome.failure is not None and outcome.failure.job_name == "refine"


@job
def too_big(n_atoms: int) -> float:
    """A job that refuses its input the way the interface builder does."""
    from ssbflow.errors import InputError

    raise InputError(f"{n_atoms} atoms; raise max_atoms to at least {n_atoms}", field="max_atoms")


def test_a_job_input_error_passes_its_field_to_the_failure(settings):
    """A failure is classified by the field of the job's InputError, not by its text."""
    refused = too_big(480)
    outcome = run_and_load(Flow([refused]), settings, [refused.uuid], progress=False)
    assert outcome.failure is not None and outcome.failure.field == "max_atoms"
    assert "raise max_atoms to at least 480" in outcome.failure.reason
    plain = broken("no field here")
    outcome = run_and_load(Flow([plain]), settings, [plain.uuid], progress=False)
    assert outcome.failure is not None and outcome.failure.field is None
