"""Who is acting: an agent (console or API token) or Haven itself."""

from __future__ import annotations

from dataclasses import dataclass

from haven.models import Agent


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str
    agent: Agent | None = None

    @classmethod
    def of(cls, agent: Agent, *, via: str = "console") -> Actor:
        return cls(kind=via, agent=agent)

    @property
    def agent_id(self) -> int | None:
        return self.agent.id if self.agent else None


SYSTEM = Actor(kind="system")
#: Someone not yet signed in (a failed login attempt, for instance).
ANONYMOUS = Actor(kind="anonymous")
