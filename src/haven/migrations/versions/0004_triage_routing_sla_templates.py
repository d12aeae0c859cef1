"""Triage, routing, SLAs and templates: message_triage, triage_settings, response templates;
conversation priority, SLA clocks and pickup; agent availability and capacity; team skills.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 14:57:01.935418
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "response_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("intent_groups", sa.JSON(), nullable=False),
        sa.Column("for_private_data", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_response_template_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_template")),
        sa.UniqueConstraint("brand_id", "name", name=op.f("uq_response_template_brand_id_name")),
    )
    with op.batch_alter_table("response_template", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_response_template_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "triage_settings",
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("priority_rules", sa.JSON(), nullable=True),
        sa.Column("sla_targets", sa.JSON(), nullable=True),
        sa.Column("business_hours", sa.JSON(), nullable=True),
        sa.Column("keep_exposed_originals", sa.Boolean(), nullable=False),
        sa.Column("pickup_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_triage_settings_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("brand_id", name=op.f("pk_triage_settings")),
    )
    op.create_table(
        "response_template_variant",
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["response_template.id"],
            name=op.f("fk_response_template_variant_template_id_response_template"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("template_id", "language", name=op.f("pk_response_template_variant")),
    )
    op.create_table(
        "message_triage",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("best_intent", sa.String(length=64), nullable=False),
        sa.Column("intent_confidence", sa.Double(), nullable=False),
        sa.Column("intent_words", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("sentiment", sa.Double(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("private_data", sa.JSON(), nullable=False),
        sa.Column("sealed_original", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("priority_reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
            name=op.f("fk_message_triage_message_id_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_triage")),
    )
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "availability",
                sa.Enum(
                    "online",
                    "away",
                    name="availability",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=False,
                server_default="away",
            )
        )
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=False, server_default="5"))
        batch_op.add_column(sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="3"))
        batch_op.add_column(
            sa.Column("priority_reasons", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("intent", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("sentiment", sa.Double(), nullable=True))
        batch_op.add_column(
            sa.Column("private_data_exposed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("picked_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_response_due", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolution_due", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("first_response_breached_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("resolution_breached_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_conversation_status_priority", ["status", "priority"], unique=False)

    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(sa.Column("languages", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(
            sa.Column("intent_groups", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column(
                "routing_mode",
                sa.Enum(
                    "round_robin",
                    "least_loaded",
                    name="routingmode",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=False,
                server_default="least_loaded",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_column("routing_mode")
        batch_op.drop_column("intent_groups")
        batch_op.drop_column("languages")

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_status_priority")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("resolution_breached_at")
        batch_op.drop_column("first_response_breached_at")
        batch_op.drop_column("first_response_at")
        batch_op.drop_column("resolution_due")
        batch_op.drop_column("first_response_due")
        batch_op.drop_column("waiting_since")
        batch_op.drop_column("picked_up_at")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("private_data_exposed")
        batch_op.drop_column("sentiment")
        batch_op.drop_column("language")
        batch_op.drop_column("intent")
        batch_op.drop_column("priority_reasons")
        batch_op.drop_column("priority")

    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_column("last_assigned_at")
        batch_op.drop_column("capacity")
        batch_op.drop_column("availability")

    op.drop_table("message_triage")
    op.drop_table("response_template_variant")
    op.drop_table("triage_settings")
    with op.batch_alter_table("response_template", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_template_brand_id"))

    op.drop_table("response_template")
