"""The strategy workspace: plans composed section by section, the evidence they cite, team templates.

Everything lives in one database (embedded SQLite per user by default, PostgreSQL for a team server),
so several server processes behind a load balancer see the same plans at once; no state the workspace
needs is kept only in one process's memory.

Modules (imported on first use — SQLAlchemy and Alembic are not a cold-start cost):

- :mod:`.engine`     database URL, engine and connection pool, migrations at first use
- :mod:`.schema`     the tables (SQLAlchemy Core); :mod:`.migrations` holds their Alembic history
- :mod:`.store`      the store API: :class:`~.store.Workspace`, :func:`~.store.workspace_for`
- :mod:`.citations`  evidence ids and uncited numbers in section text
- :mod:`.render`     a plan as markdown, diffs, the evidence appendix
- :mod:`.refresh`    re-running a plan's evidence on current or new files
- :mod:`.templates`  team templates saved from chat, validated and versioned
- :mod:`.files`      exported files as ``retention://reports/{name}`` resources; ``report_link``
"""
