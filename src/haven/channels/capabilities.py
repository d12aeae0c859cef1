"""What each channel can carry. The outbound path checks these before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from haven.models import ChannelKind, Visibility


@dataclass(frozen=True, slots=True)
class Capabilities:
    #: Longest text per visibility this channel can deliver; a visibility missing here cannot be
    #: delivered. INTERNAL never leaves Haven and is always allowed.
    max_length: Mapping[Visibility, int]

    @property
    def deliverable(self) -> frozenset[Visibility]:
        return frozenset(self.max_length)


_CAPABILITIES = {
    # Public: a reply tweet. Private: a 1:1 DM to the customer.
    ChannelKind.X: Capabilities(max_length={Visibility.PUBLIC: 280, Visibility.PRIVATE: 10_000}),
    # The bank's secure chat: private only, by construction.
    ChannelKind.WEBCHAT: Capabilities(max_length={Visibility.PRIVATE: 4_000}),
}


def capabilities(kind: ChannelKind) -> Capabilities:
    return _CAPABILITIES[kind]
