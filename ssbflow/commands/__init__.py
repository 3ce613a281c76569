"""CLI commands, one module per area; each module defines ``register(app)``."""

from ssbflow.commands import (
    adhesion,
    calibrate,
    diffusion,
    fw,
    phases,
    phonons,
    reproduce,
    stability,
    surface,
)

COMMAND_MODULES = [
    phases,
    adhesion,
    surface,
    diffusion,
    phonons,
    stability,
    calibrate,
    reproduce,
    fw,
]
