"""What each channel can carry. The outbound path checks these before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass

from haven.models import ChannelKind, Visibility


@dataclass(frozen=True, slots=True)
class Capabilities:
    #: Visibilities this channel can deliver; INTERNAL never leaves Haven and is always allowed.
    deliverable: frozenset[Visibility]
    max_length: int


_CAPABILITIES = {
    # Private replies on X (DMs) arrive with the DM transport; until then a private reply is refused
    # rather than risk it travelling a public path.
    ChannelKind.X: Capabilities(deliverable=frozenset({Visibility.PUBLIC}), max_length=280),
}


def capabilities(kind: ChannelKind) -> Capabilities:
    return _CAPABILITIES[kind]
