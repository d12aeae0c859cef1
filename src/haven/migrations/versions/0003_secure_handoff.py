"""Secure handoff: invitations, chats, chat events, secure forms, CSAT, the webchat channel kind.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 12:57:01.912421
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("x_user_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_agent_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "used",
                "locked",
                "replaced",
                name="invitationstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("code_hmac", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("code_customer_id", sa.String(length=100), nullable=True),
        sa.Column("oidc_pending_encrypted", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_chat_invitation_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_chat_invitation_contact_id_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_chat_invitation_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_agent_id"],
            ["agent.id"],
            name=op.f("fk_chat_invitation_created_by_agent_id_agent"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_chat_invitation_token_hash")),
    )
    with op.batch_alter_table("chat_invitation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_invitation_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chat_invitation_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "chat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("customer_token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "verified_by",
            sa.Enum(
                "one_time_code",
                "openid_connect",
                name="verificationmethod",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("directory_customer_id", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum("live", "ended", name="chatstatus", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by_agent_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_chat_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_chat_contact_id_contact"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_chat_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_agent_id"],
            ["agent.id"],
            name=op.f("fk_chat_ended_by_agent_id_agent"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["chat_invitation.id"],
            name=op.f("fk_chat_invitation_id_chat_invitation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat")),
        sa.UniqueConstraint("customer_token_hash", name=op.f("uq_chat_customer_token_hash")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_chat_invitation_id")),
    )
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_conversation_id"), ["conversation_id"], unique=False)

    op.create_table(
        "secure_form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_agent_id", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "submitted",
                name="formstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chat.id"], name=op.f("fk_secure_form_chat_id_chat"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_secure_form_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_agent_id"],
            ["agent.id"],
            name=op.f("fk_secure_form_requested_by_agent_id_agent"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secure_form")),
    )
    with op.batch_alter_table("secure_form", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_secure_form_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_secure_form_conversation_id"), ["conversation_id"], unique=False)

    op.create_table(
        "chat_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "message",
                "form_requested",
                "form_submitted",
                "ended",
                "rated",
                name="chateventkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("form_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chat.id"], name=op.f("fk_chat_event_chat_id_chat"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["secure_form.id"],
            name=op.f("fk_chat_event_form_id_secure_form"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["message.id"], name=op.f("fk_chat_event_message_id_message"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_event")),
        sa.UniqueConstraint("chat_id", "seq", name=op.f("uq_chat_event_chat_id_seq")),
    )
    op.create_table(
        "secure_form_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("value_encrypted", sa.Text(), nullable=False),
        sa.Column("masked", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["secure_form.id"],
            name=op.f("fk_secure_form_value_form_id_secure_form"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secure_form_value")),
        sa.UniqueConstraint("form_id", "field", name=op.f("uq_secure_form_value_form_id_field")),
    )
    with op.batch_alter_table("secure_form_value", schema=None) as batch_op:
        batch_op.create_index("ix_secure_form_value_key_id", ["key_id"], unique=False)

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("csat_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("csat_comment", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("csat_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_message_chat_id_chat"), "chat", ["chat_id"], ["id"], ondelete="SET NULL"
        )

    _allow_channel_kinds(("x", "webchat"))


def _allow_channel_kinds(kinds: tuple[str, ...]) -> None:
    """Widen (or narrow) the CHECK constraints that list the channel kinds."""
    for table, column in (("channel_account", "kind"), ("contact_identity", "channel_kind")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_channelkind"), type_="check")
            batch_op.create_check_constraint(op.f(f"ck_{table}_channelkind"), sa.column(column).in_(kinds))


def downgrade() -> None:
    _allow_channel_kinds(("x",))
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_message_chat_id_chat"), type_="foreignkey")
        batch_op.drop_column("chat_id")

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("csat_at")
        batch_op.drop_column("csat_comment")
        batch_op.drop_column("csat_score")

    with op.batch_alter_table("secure_form_value", schema=None) as batch_op:
        batch_op.drop_index("ix_secure_form_value_key_id")

    op.drop_table("secure_form_value")
    op.drop_table("chat_event")
    with op.batch_alter_table("secure_form", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_secure_form_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_secure_form_chat_id"))

    op.drop_table("secure_form")
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_chat_brand_id"))

    op.drop_table("chat")
    with op.batch_alter_table("chat_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_invitation_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_chat_invitation_brand_id"))

    op.drop_table("chat_invitation")
