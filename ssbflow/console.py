"""The one console for progress and messages: stderr, so ``--json`` output on stdout stays clean."""

from rich.console import Console

#: Progress and messages go to stderr, so that ``--json`` output on stdout stays clean.
stderr_console = Console(stderr=True)
