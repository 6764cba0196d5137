"""Workspace roles: who may read and write each plan, the scope of each evidence record, who wrote each file.

Plans created before this revision were shared with the whole team (everyone could read and write them): they
keep that, as a grant of write to everyone ("*"). New plans belong to their creator and to whom they share them.

Revision ID: 0004_roles
Revises: 0003_evidence_lineage
Create Date: 2026-12-07
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0004_roles"
down_revision = "0003_evidence_lineage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_plan_grants",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(200), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "person", name="pk_retention_plan_grants"),
        sa.ForeignKeyConstraint(["plan_id"], ["retention_plans.id"], ondelete="CASCADE",
                                name="fk_retention_plan_grants_plan_id_retention_plans"),
    )
    op.create_table(
        "retention_files",
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_retention_files"),
    )
    with op.batch_alter_table("retention_evidence") as batch:
        batch.add_column(sa.Column("scope", sa.JSON(), nullable=True))
    plans = sa.table("retention_plans", sa.column("id", sa.Integer()))
    grants = sa.table("retention_plan_grants", sa.column("plan_id", sa.Integer()), sa.column("person", sa.String()),
                      sa.column("level", sa.String()), sa.column("granted_by", sa.String()),
                      sa.column("granted_at", sa.DateTime(timezone=True)))
    connection = op.get_bind()
    stamp = dt.datetime.now(dt.UTC)
    existing = [row[0] for row in connection.execute(sa.select(plans.c.id))]
    if existing:
        connection.execute(sa.insert(grants), [
            {"plan_id": plan_id, "person": "*", "level": "write", "granted_by": "migration 0004", "granted_at": stamp}
            for plan_id in existing])


def downgrade() -> None:
    with op.batch_alter_table("retention_evidence") as batch:
        batch.drop_column("scope")
    op.drop_table("retention_files")
    op.drop_table("retention_plan_grants")
