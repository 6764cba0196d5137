"""Evidence that stays true over time: the period each result was computed for (resolved), the units of its
figures, the charts that draw it, and lineage (a result computed from another result).

Revision ID: 0003_evidence_lineage
Revises: 0002_datasets
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_evidence_lineage"
down_revision = "0002_datasets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("retention_evidence", sa.Column("period", sa.JSON(), nullable=True))
    op.add_column("retention_evidence", sa.Column("figure_units", sa.JSON(), nullable=True))
    op.add_column("retention_evidence", sa.Column("charts", sa.JSON(), nullable=True))
    op.create_table(
        "retention_evidence_links",
        sa.Column("child_id", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=False),
        sa.Column("argument", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("child_id", "parent_id", "argument", name="pk_retention_evidence_links"),
        sa.ForeignKeyConstraint(["child_id"], ["retention_evidence.id"], ondelete="CASCADE",
                                name="fk_retention_evidence_links_child_id_retention_evidence"),
        sa.ForeignKeyConstraint(["parent_id"], ["retention_evidence.id"], ondelete="CASCADE",
                                name="fk_retention_evidence_links_parent_id_retention_evidence"),
    )
    op.create_index("ix_retention_evidence_links_parent", "retention_evidence_links", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_retention_evidence_links_parent", table_name="retention_evidence_links")
    op.drop_table("retention_evidence_links")
    with op.batch_alter_table("retention_evidence") as batch:
        batch.drop_column("charts")
        batch.drop_column("figure_units")
        batch.drop_column("period")
