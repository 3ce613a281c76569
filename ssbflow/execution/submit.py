"""Submitting a jobflow Flow to the FireWorks LaunchPad."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ssbflow.execution.launchpad import database_errors, open_launchpad
from ssbflow.settings import SsbflowSettings


def flow_to_fireworks_workflow(flow: Any) -> Any:
    """The FireWorks Workflow of a jobflow Flow or Job, with no store in its specs.

    Workers use the results store of their own ssbflow settings, so no database address
    (and no credential) is ever serialised into the LaunchPad.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from ssbflow import __version__

    wf = flow_to_workflow(flow, store=None)
    wf.metadata = {**(wf.metadata or {}), "ssbflow_version": __version__}
    return wf


def submit_flow(
    flow: Any,
    settings: SsbflowSettings,
    launchpad_file: Path | None = None,
    dry_run: bool = False,
    as_json: bool = False,
) -> int | None:
    """Add ``flow`` to the LaunchPad as a FireWorks workflow and print its id on stdout.

    Parameters
    ----------
    flow
        A jobflow Flow or Job.
    settings
        ssbflow settings (LaunchPad and results store).
    launchpad_file
        LaunchPad YAML overriding ``settings.launchpad_file``.
    dry_run
        Print the jobs that would be added (on stdout) and store nothing.
    as_json
        Print one JSON object instead: ``{"workflow_id": ...}``, or for a dry run
        ``{"dry_run": true, "workflow": ..., "jobs": [...]}``.

    Returns
    -------
    int or None
        The workflow id (the smallest FireWorks id of its jobs); ``None`` for a dry run.
    """
    from ssbflow.execution.store import describe_store

    wf = flow_to_fireworks_workflow(flow)
    n_jobs = len(wf.fws)
    if dry_run:
        parents: dict[int, list[str]] = {}
        names = {fw.fw_id: fw.name for fw in wf.fws}
        for parent, children in wf.links.items():
            for child in children:
                parents.setdefault(child, []).append(names[parent])
        if as_json:
            jobs = [{"name": fw.name, "after": parents.get(fw.fw_id, [])} for fw in wf.fws]
            print(json.dumps({"dry_run": True, "workflow": wf.name, "jobs": jobs}))
            return None
        print(f"dry run: workflow '{wf.name}' with {n_jobs} job(s) would be added:")
        for fw in wf.fws:
            after = f" (after {', '.join(parents[fw.fw_id])})" if fw.fw_id in parents else ""
            print(f"  {fw.name}{after}")
        print("nothing was stored")
        return None
    opened = open_launchpad(settings, launchpad_file)
    with database_errors(opened.description):
        id_map = opened.launchpad.add_wf(wf)
    wf_id = min(id_map.values())
    print(json.dumps({"workflow_id": wf_id}) if as_json else wf_id)
    sys.stderr.write(
        f"submitted workflow '{wf.name}' ({n_jobs} job(s)) as id {wf_id} to "
        f"{opened.description}; results will go to {describe_store(settings)}. "
        "Run 'ssbflow worker' to run it.\n"
    )
    return wf_id
