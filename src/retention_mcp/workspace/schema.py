"""The workspace schema, in SQLAlchemy Core: one definition for SQLite and PostgreSQL.

Changing it means adding an Alembic revision in ``migrations/versions`` that brings an existing
database to the same shape (a test compares the migrated database with these tables).

- ``retention_plans``: one row per plan; ``current_version`` is the compare-and-swap guard that makes
  a write against a stale version fail instead of overwriting.
- ``retention_plan_versions``: every version of every plan; version 1 is the creation, each later one
  changes exactly one section (its full new markdown) and records who, when and which version it revised.
- ``retention_evidence``: what a tool computed, from which files, under which definition, for which period (stored
  resolved), with its figures, their units and the charts that draw them; cited as ``[ev-…]``.
- ``retention_evidence_links``: lineage — a result computed from another result (``calculate_roi`` from an
  ``estimate_impact``), naming the argument that carried the parent's id, so a refresh re-runs the graph in order.
- ``retention_templates``: team templates saved from chat, every version kept.
- ``retention_datasets``: linked datasets (several exports joined on an employee key), every version kept: the
  files, the key and how each file joins, as JSON (``retention_mcp.data.linked.LinkedDefinition``).
- ``retention_plan_grants``: who besides its creator may read or write a plan (a person's name, or ``*`` for
  everyone on the server); the creator owns the plan and alone changes its grants.
- ``retention_files``: files written into the output folder by a call (exports, charts): who wrote them, the plan
  they were exported from, and the scope their figures were computed under, so a file is served only to those
  who may read what it holds.

Evidence records its ``scope``: null for a result over the whole data (or no data), else the access it was
computed under ({"mode", "rows", "hidden_columns", "label"}: a manager's department).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

#: Lengths: names people type (titles, groups, authors) and identifiers.
NAME_LENGTH = 200
KEY_LENGTH = 100

plans = Table(
    "retention_plans", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(NAME_LENGTH), nullable=False),
    Column("template", String(KEY_LENGTH), nullable=False),
    Column("language", String(8), nullable=False),
    Column("group_label", String(NAME_LENGTH), nullable=False),
    Column("sections", JSON, nullable=False),  # the ordered section headings
    Column("current_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(NAME_LENGTH), nullable=False),
)

plan_versions = Table(
    "retention_plan_versions", metadata,
    Column("plan_id", Integer, ForeignKey("retention_plans.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("base_version", Integer, nullable=True),  # the version the writer revised (None: the creation)
    Column("section", String(NAME_LENGTH), nullable=True),  # None: the creation
    Column("content", Text, nullable=True),  # the section's whole new markdown
    Column("author", String(NAME_LENGTH), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_retention_plan_versions_section", plan_versions.c.plan_id, plan_versions.c.section,
      plan_versions.c.version)

evidence = Table(
    "retention_evidence", metadata,
    Column("id", String(32), primary_key=True),
    Column("tool", String(KEY_LENGTH), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("sources", JSON, nullable=False),
    Column("definition", Text, nullable=False),
    Column("figures", JSON, nullable=False),
    Column("author", String(NAME_LENGTH), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Added in 0003 (null in older rows): {"kind": "period" | "as_of" | "calls" | "snapshot" | "inputs", "start",
    # "end", "months", "source"}; the unit of each figure; chart specs (and the PNG written, when asked).
    Column("period", JSON, nullable=True),
    Column("figure_units", JSON, nullable=True),
    Column("charts", JSON, nullable=True),
    Column("scope", JSON, nullable=True),  # the access it was computed under; null: the whole data
)

evidence_links = Table(
    "retention_evidence_links", metadata,
    Column("child_id", String(32), ForeignKey("retention_evidence.id", ondelete="CASCADE"), primary_key=True),
    Column("parent_id", String(32), ForeignKey("retention_evidence.id", ondelete="CASCADE"), primary_key=True),
    Column("argument", String(KEY_LENGTH), primary_key=True),  # the argument that named the parent
)
Index("ix_retention_evidence_links_parent", evidence_links.c.parent_id)

templates = Table(
    "retention_templates", metadata,
    Column("name", String(KEY_LENGTH), primary_key=True),
    Column("language", String(8), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("author", String(NAME_LENGTH), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

datasets = Table(
    "retention_datasets", metadata,
    Column("name", String(KEY_LENGTH), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("author", String(NAME_LENGTH), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

plan_grants = Table(
    "retention_plan_grants", metadata,
    Column("plan_id", Integer, ForeignKey("retention_plans.id", ondelete="CASCADE"), primary_key=True),
    Column("person", String(NAME_LENGTH), primary_key=True),  # a name, or "*": everyone on this server
    Column("level", String(8), nullable=False),  # read | write
    Column("granted_by", String(NAME_LENGTH), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
)

files = Table(
    "retention_files", metadata,
    Column("name", String(KEY_LENGTH * 3), primary_key=True),  # a plain file name in the output folder
    Column("author", String(NAME_LENGTH), nullable=False),
    Column("plan_id", Integer, nullable=True),  # exported from this plan (kept if the plan goes: a file outlives it)
    Column("scope", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
