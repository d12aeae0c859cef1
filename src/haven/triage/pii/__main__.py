"""`python -m haven.triage.pii` is `haven pii`."""

from haven.triage.pii.cli import pii_app

pii_app()
