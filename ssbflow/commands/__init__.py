"""CLI commands, one module per area; each module defines ``register(app)``."""

from ssbflow.commands import adhesion, diffusion, fw, phases, phonons, reproduce

COMMAND_MODULES = [phases, adhesion, diffusion, phonons, reproduce, fw]
