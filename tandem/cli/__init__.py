"""The operator CLI (``starter.py``): one module per group of commands, all on one typer app."""

from tandem.cli import act, matching, portal, programs, report, stack  # noqa: F401  (importing registers the commands)
from tandem.cli.common import app

__all__ = ["app"]
