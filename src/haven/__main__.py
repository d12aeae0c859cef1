"""`python -m haven` is the `haven` command."""

from haven.cli import app

app()
