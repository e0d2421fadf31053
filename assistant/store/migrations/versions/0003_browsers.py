"""Browsers: cookie tickets, trusted devices, per-address counters; indexes for the purge.

Revision ID: 0003_browsers
Revises: 0002_versions
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_browsers"
down_revision: str | None = "0002_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trusted_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("last_used_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_trusted_devices_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_trusted_devices"),
        sa.UniqueConstraint("token_hash", "user_id", name="uq_trusted_devices_token_user"),
    )
    op.create_index("ix_trusted_devices_user_id", "trusted_devices", ["user_id"])
    op.create_index("ix_trusted_devices_last_used_at", "trusted_devices", ["last_used_at"])
    op.create_table(
        "cookie_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_hash", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("bound_to", sa.String(64), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.Column("redeemed_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cookie_tickets"),
        sa.UniqueConstraint("ticket_hash", name="uq_cookie_tickets_ticket_hash"),
    )
    op.create_index("ix_cookie_tickets_expires_at", "cookie_tickets", ["expires_at"])
    op.create_table(
        "rate_counts",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_started_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_counts"),
    )
    op.create_index("ix_rate_counts_window_started_at", "rate_counts", ["window_started_at"])
    op.create_index("ix_auth_sessions_last_seen_at", "auth_sessions", ["last_seen_at"])
    op.create_index("ix_users_guest_created", "users", ["is_guest", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_users_guest_created", "users")
    op.drop_index("ix_auth_sessions_last_seen_at", "auth_sessions")
    for table in ("rate_counts", "cookie_tickets", "trusted_devices"):
        op.drop_table(table)
