"""Versions of a turn and the whole reply state.

Messages form a tree (`parent_id`), so regenerating or editing adds a sibling instead of
deleting; `conversations.head_id` names the end of the branch being shown. Existing
conversations become a single branch: each message's parent is the one before it, and the head
is the last. Replies also keep why another model answered, the finish reason and the error's
kind, so a reloaded reply reads exactly as it did live. `leases` names the one process that
runs the periodic upkeep when several share the database.

Revision ID: 0002_versions
Revises: 0001_initial
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_versions"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("model_reason", sa.String(16), nullable=True))
        batch.add_column(sa.Column("finish_reason", sa.String(32), nullable=True))
        batch.add_column(sa.Column("error_kind", sa.String(64), nullable=True))
        batch.create_foreign_key(
            "fk_messages_parent_id_messages", "messages", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_messages_parent_id", ["parent_id"])
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("head_id", sa.Integer(), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    op.execute(
        "UPDATE messages SET parent_id = (SELECT max(earlier.id) FROM messages AS earlier "
        "WHERE earlier.conversation_id = messages.conversation_id AND earlier.id < messages.id)"
    )
    op.execute(
        "UPDATE conversations SET head_id = "
        "(SELECT max(id) FROM messages WHERE messages.conversation_id = conversations.id)"
    )


def downgrade() -> None:
    op.drop_table("leases")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("head_id")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_parent_id")
        batch.drop_constraint("fk_messages_parent_id_messages", type_="foreignkey")
        batch.drop_column("error_kind")
        batch.drop_column("finish_reason")
        batch.drop_column("model_reason")
        batch.drop_column("parent_id")
