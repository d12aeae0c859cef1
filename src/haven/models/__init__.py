"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from haven.models.agent import (
    Agent,
    AgentSession,
    ApiToken,
    Availability,
    Role,
    RoutingMode,
    Team,
    team_membership,
)
from haven.models.alert import Alert
from haven.models.audit import AuditEntry
from haven.models.base import Base
from haven.models.brand import Brand
from haven.models.channel import ApiUsage, ChannelAccount, ChannelCursor, ChannelKind
from haven.models.contact import Contact, ContactIdentity
from haven.models.conversation import Conversation, ConversationStatus
from haven.models.handoff import (
    Chat,
    ChatEvent,
    ChatEventKind,
    ChatInvitation,
    ChatStatus,
    FormStatus,
    InvitationStatus,
    SecureForm,
    SecureFormValue,
    VerificationMethod,
)
from haven.models.inbound import InboundEvent
from haven.models.message import (
    DeliveryStatus,
    Direction,
    Message,
    OutboxItem,
    OutboxStatus,
    Visibility,
)
from haven.models.triage import MessageTriage, ResponseTemplate, ResponseTemplateVariant, TriageSettings

__all__ = [
    "Agent",
    "AgentSession",
    "Alert",
    "ApiToken",
    "ApiUsage",
    "AuditEntry",
    "Availability",
    "Base",
    "Brand",
    "ChannelAccount",
    "ChannelCursor",
    "ChannelKind",
    "Chat",
    "ChatEvent",
    "ChatEventKind",
    "ChatInvitation",
    "ChatStatus",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "ConversationStatus",
    "DeliveryStatus",
    "Direction",
    "FormStatus",
    "InboundEvent",
    "InvitationStatus",
    "Message",
    "MessageTriage",
    "OutboxItem",
    "OutboxStatus",
    "ResponseTemplate",
    "ResponseTemplateVariant",
    "Role",
    "RoutingMode",
    "SecureForm",
    "SecureFormValue",
    "Team",
    "TriageSettings",
    "VerificationMethod",
    "Visibility",
    "team_membership",
]
