"""CLI commands, one module per area; each module defines ``register(app)``."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

_NAMES = ["phases", "adhesion", "diffusion", "phonons", "reproduce", "fw"]


def _load() -> list[ModuleType]:
    modules = []
    for name in _NAMES:
        full = f"ssbflow.commands.{name}"
        if importlib.util.find_spec(full) is not None:  # TODO(lead): make strict before release
            modules.append(importlib.import_module(full))
    return modules


COMMAND_MODULES = _load()
