"""Fault injection: how badly the simulated X behaves, set at runtime through ``/_sim/faults``.

One :class:`Faults` lives on the simulator. Every decision goes through its seeded random generator
so that a test that sets ``seed`` sees the same faults on every run, and every injected fault is
counted so that tests can assert that faults really happened.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal["429", "500", "503", "timeout"]
ALL_KINDS: tuple[FaultKind, ...] = ("429", "500", "503", "timeout")


class FaultConfig(BaseModel):
    """What to inject. All shares are probabilities in [0, 1]; the defaults inject nothing."""

    model_config = ConfigDict(extra="forbid")

    #: Share of ``/2/*`` API requests answered with an injected failure instead of (or after) the
    #: real answer. ``/_sim/*`` and the pages are never faulted.
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: Relative weights of the failure kinds picked for a faulted request.
    error_kinds: dict[FaultKind, float] = Field(default_factory=lambda: dict.fromkeys(ALL_KINDS, 1.0))
    #: For a faulted write (POST/PUT/DELETE), the share where the action takes effect and only the
    #: answer is lost: the ambiguous failure a careful client must look for before retrying.
    after_effect_share: float = Field(default=0.5, ge=0.0, le=1.0)
    #: How long a ``timeout`` fault holds the request before dropping the connection.
    timeout_seconds: float = Field(default=15.0, ge=0.0, le=300.0)
    #: How far ahead ``x-rate-limit-reset`` of an injected 429 lies, in seconds. Short by default so
    #: that a client honouring it (reset + 1 s) resumes quickly in tests.
    rate_limit_reset_seconds: int = Field(default=1, ge=0, le=900)
    #: Extra delay on every ``/2/*`` request (a slow server).
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    #: Share of stream lines and webhook deliveries sent twice.
    duplicate_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: Share of stream lines and webhook deliveries held back and sent after the next one.
    reorder_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: Share of stream lines after which the stream is cut (half as an in-stream
    #: ``operational-disconnect`` error line, half by dropping the socket).
    stream_disconnect_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: Seed of the random generator; ``None`` draws one from the system.
    seed: int | None = None


class Faults:
    """The current :class:`FaultConfig`, its random generator and the tally of injected faults."""

    def __init__(self) -> None:
        self.config = FaultConfig()
        self.rng = random.Random()  # noqa: S311 - simulated faults, not cryptography
        #: Injected faults by kind, e.g. ``{"500": 3, "duplicate": 2}``.
        self.counts: Counter[str] = Counter()

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)  # noqa: S311 - seeded on purpose, for repeatable tests
        self.counts.clear()

    def reset(self) -> None:
        self.configure(FaultConfig())

    def chance(self, share: float) -> bool:
        """True with probability ``share`` (never for 0, always for 1)."""
        return share > 0 and self.rng.random() < share

    def pick_error(self) -> FaultKind | None:
        """The failure to inject into one API request, or None to answer it normally."""
        if not self.chance(self.config.error_rate):
            return None
        kinds = [kind for kind, weight in self.config.error_kinds.items() if weight > 0]
        if not kinds:
            return None
        weights = [self.config.error_kinds[kind] for kind in kinds]
        kind: FaultKind = self.rng.choices(kinds, weights)[0]
        self.counts[kind] += 1
        return kind

    def record(self, kind: str) -> None:
        self.counts[kind] += 1
