"""CLI commands, one module per area; each module defines ``register(app)``."""

from ssbflow.commands import phases

COMMAND_MODULES = [phases]
