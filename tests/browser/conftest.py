"""Browser tests run against the same real stack as the end-to-end suite."""

from tests.e2e.conftest import Stack, stack

__all__ = ["Stack", "stack"]
