"""The store API: plans and their versions, evidence, team templates — one database, many processes.

``workspace_for(settings)`` gives the process's :class:`Workspace` for the configured database. Its
methods are synchronous (database I/O): call them from async code with ``anyio.to_thread.run_sync``.
Bad input raises :class:`~retention_mcp.errors.InputError` with what to fix; a database that cannot be
reached raises :class:`~retention_mcp.workspace.engine.WorkspaceUnavailable` (an InputError too).

No lost updates: a section write names the version it revises (``base_version``). It lands only if
that section has not changed since; then one transaction moves the plan's ``current_version`` from the
value it read to the next (compare-and-swap) and inserts the version row (primary key plan + version).
A concurrent writer that loses the swap re-reads and is refused as stale if the section moved, or
lands on top if only other sections did. Every version keeps its author, time and base version.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import math
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retention_mcp.errors import InputError
from retention_mcp.settings import Settings
from retention_mcp.workspace.citations import UncitedNumber, cited_ids, uncited_numbers
from retention_mcp.workspace.engine import database_url, get_engine, unavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: Largest section, in characters (about 60 pages of text).
MAX_SECTION_CHARS = 200_000
#: Longest argument string kept in an evidence record; longer ones (inline CSV) are kept as a fingerprint.
MAX_ARGUMENT_CHARS = 2_000
#: Arguments that carry the data itself: never stored (privacy), only fingerprinted.
INLINE_DATA_ARGUMENTS = ("csv_text",)
#: Times a write retries after losing the compare-and-swap to a writer of another section.
MAX_WRITE_ATTEMPTS = 20
EVIDENCE_PREFIX = "ev-"
#: A grant to this name is a grant to everyone on the server.
EVERYONE = "*"
#: What a grant may give; the creator of a plan is its owner (both, and changes the grants).
LEVELS = ("read", "write")
_EVIDENCE_ID = re.compile(r"^ev-[0-9a-f]{1,32}$")

FigureValue = float | int | str | None


class StaleVersion(InputError):
    """A write against a version of the section that has since changed; nothing was written."""

    def __init__(self, message: str, *, current_version: int, diff: str) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.diff = diff


# -- results ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SectionState:
    heading: str
    markdown: str  # "" when never written
    version: int | None  # the plan version that last changed it (None: never written)
    author: str | None
    changed_at: dt.datetime | None


@dataclass(frozen=True)
class PlanState:
    id: int
    title: str
    template: str
    language: str
    group: str
    version: int  # the version this state shows
    current_version: int
    sections: tuple[SectionState, ...]
    created_at: dt.datetime
    created_by: str
    changed_at: dt.datetime  # when `version` was made
    changed_by: str

    def section(self, heading: str) -> SectionState:
        return next(s for s in self.sections if s.heading == heading)


@dataclass(frozen=True)
class PlanSummary:
    id: int
    title: str
    template: str
    language: str
    group: str
    current_version: int
    created_by: str
    updated_at: dt.datetime
    updated_by: str


@dataclass(frozen=True)
class VersionInfo:
    version: int
    base_version: int | None
    section: str | None  # None: the creation
    author: str
    created_at: dt.datetime
    chars: int


@dataclass(frozen=True)
class WriteOutcome:
    plan_id: int
    version: int
    section: str
    base_version: int
    cited: tuple[str, ...]
    uncited: tuple[UncitedNumber, ...]
    #: sections others changed between base_version and this write (kept: they were not this section)
    merged_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Link:
    """One edge of the lineage graph: ``child`` was computed from ``parent``, whose id it took in ``argument``."""

    child: str
    parent: str
    argument: str


@dataclass(frozen=True)
class Evidence:
    id: str
    tool: str
    arguments: dict[str, Any]
    sources: list[dict[str, Any]]
    definition: str
    figures: dict[str, FigureValue]
    author: str
    created_at: dt.datetime
    #: the period the result was computed for, resolved (``{}`` for evidence recorded before periods were kept)
    period: dict[str, Any] = field(default_factory=dict)
    #: the unit of each figure (fraction, percent_points, count, money, ratio, number, seconds, days, text)
    units: dict[str, str] = field(default_factory=dict)
    #: chart specs ``{"kind", "data", "title", "file"}``; ``file`` is the PNG written when chart=true was asked
    charts: list[dict[str, Any]] = field(default_factory=list)
    #: results this one was computed from, and results computed from it
    parents: tuple[Link, ...] = ()
    children: tuple[Link, ...] = ()
    scope: dict[str, Any] | None = None  # the access it was computed under; None: the whole data (or no data)


@dataclass(frozen=True)
class Grant:
    person: str  # a name, or EVERYONE
    level: str  # read | write
    granted_by: str
    granted_at: dt.datetime


@dataclass(frozen=True)
class FileRecord:
    name: str
    author: str
    plan_id: int | None
    scope: dict[str, Any] | None
    created_at: dt.datetime


@dataclass(frozen=True)
class SavedDataset:
    """One version of a linked dataset's definition (``retention_mcp.data.linked.LinkedDefinition`` as JSON)."""

    name: str
    version: int
    definition: dict[str, Any]
    author: str
    created_at: dt.datetime


@dataclass(frozen=True)
class SavedTemplate:
    name: str
    language: str
    version: int
    source: str
    author: str
    created_at: dt.datetime


class _Retry(Exception):
    """Lost the compare-and-swap to another writer: read again."""


# -- helpers ------------------------------------------------------------------------------------------

def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_RANK = {"read": 1, "write": 2, "own": 3}


def _checked_grants(share: dict[str, str]) -> dict[str, str]:
    """``{person: level}`` cleaned: names trimmed, levels read or write; InputError otherwise."""
    if not isinstance(share, dict):
        raise InputError('share must be an object {person: "read" | "write"}, e.g. {"li.wei": "write", "*": "read"}')
    grants: dict[str, str] = {}
    for person, level in share.items():
        name = storable_text(str(person).strip(), "a person's name")[:200]
        if not name or level not in LEVELS:
            raise InputError(f'share: give each person "read" or "write", e.g. {{"li.wei": "write"}} (got '
                             f'{str(person)[:40]!r}: {str(level)[:20]!r})')
        grants[name] = level
    return grants


def _clean_author(author: str) -> str:
    author = storable_text((author or "").strip(), "the author name")
    return author[:200] if author else "unknown"


def storable_text(text: str, what: str) -> str:
    """``text`` if both databases can store it; InputError naming the problem otherwise.

    PostgreSQL text cannot hold a NUL character, and no UTF-8 database can hold a lone surrogate (JSON's
    ``"\\ud800"``); SQLite would keep them and PostgreSQL fail, so both refuse them, the same way."""
    if "\x00" in text:
        raise InputError(f"{what} contains a NUL character (\\u0000), which cannot be stored; remove it "
                         f"(at character {text.index(chr(0)) + 1:,})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"{what} contains an unpaired surrogate (\\u{ord(text[exc.start]):04x}, at character "
                         f"{exc.start + 1:,}), which is not text any database can store; remove it") from None
    return text


def _storable_value(text: str) -> str:
    """A string for an evidence record: NUL and unpaired surrogates replaced by U+FFFD (the call already ran; its
    arguments are recorded as faithfully as the databases allow)."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


_NUMBERING = re.compile(r"^\s*#*\s*(?:\d+[.)、]|[一二三四五六七八九十]+、)?\s*")


def _norm_heading(value: str) -> str:
    """A heading without markdown hashes, numbering ('1.', '一、'), spaces or case."""
    return "".join(_NUMBERING.sub("", value, count=1).split()).casefold()


def resolve_section(sections: Sequence[str], wanted: str | int) -> str:
    """The heading named by ``wanted``: the heading itself (ignoring case, spaces and numbering such as
    '一、') or its 1-based number."""
    text = str(wanted).strip()
    if text.isdigit() and 1 <= int(text) <= len(sections):
        return sections[int(text) - 1]
    norm = _norm_heading

    for heading in sections:
        if norm(heading) == norm(text):
            return heading
    listed = "; ".join(f"{i}. {h}" for i, h in enumerate(sections, 1))
    raise InputError(f"this plan has no section {wanted!r}; its sections are: {listed} "
                     "(name one by its heading or its number)")


def _json_value(value: Any) -> Any:
    """A JSON-safe copy: NaN and infinities become None, numpy scalars plain numbers, the rest str()."""
    if isinstance(value, dict):
        return {_storable_value(str(k)): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, str):
        return _storable_value(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalar
        return _json_value(value.item())
    return _storable_value(str(value))


def fingerprint(text: str) -> dict[str, Any]:
    data = text.encode("utf-8")
    return {"omitted": "inline data is not stored in the workspace", "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def clean_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as stored in evidence: inline data and very long strings replaced by a fingerprint; structured
    arguments (a KPI item, a phase) as the JSON the caller sent, not a Python object's repr."""
    cleaned: dict[str, Any] = {}
    for key, value in (arguments or {}).items():
        if isinstance(value, str) and (key in INLINE_DATA_ARGUMENTS or len(value) > MAX_ARGUMENT_CHARS):
            cleaned[str(key)] = fingerprint(value)
        else:
            cleaned[str(key)] = _json_value(_plain(value))
    return cleaned


def _plain(value: Any) -> Any:
    """Pydantic models (in lists and dicts too) as their JSON data without unset fields."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def clean_figures(figures: dict[str, Any]) -> dict[str, FigureValue]:
    cleaned: dict[str, FigureValue] = {}
    for key, value in (figures or {}).items():
        value = _json_value(value)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float | str) and value is not None:
            value = json.dumps(value, ensure_ascii=False)
        cleaned[str(key)] = value
    return cleaned


def unified_diff(old: str, new: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=old_label, tofile=new_label)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# -- the store ----------------------------------------------------------------------------------------

class Workspace:
    """Plans, evidence and team templates in the database at ``url`` (opened and migrated on first use)."""

    def __init__(self, url: str) -> None:
        self.url = url

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        from sqlalchemy.exc import InterfaceError, OperationalError

        engine = get_engine(self.url)
        try:
            with engine.begin() as connection:
                yield connection
        except (OperationalError, InterfaceError) as exc:  # cannot connect, locked for too long, disk full
            raise unavailable(self.url, exc) from None

    # -- plans

    def create_plan(self, *, title: str, template: str, language: str, group: str, sections: Sequence[str],
                    author: str, share: dict[str, str] | None = None) -> PlanState:
        """A new plan at version 1 with empty sections (in order), owned by ``author`` and shared as ``share``
        says ({person or "*": "read" | "write"})."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plan_grants, plan_versions, plans

        grants = _checked_grants(share or {})
        title = storable_text((title or "").strip(), "the title")
        group = storable_text(group or "", "the group")
        if not title:
            raise InputError("a plan needs a title, e.g. '客服中心夜班保留方案 2026'")
        headings = [storable_text(str(s).strip(), "a section heading") for s in sections if str(s).strip()]
        if not headings:
            raise InputError("a plan needs at least one section heading")
        if len(set(headings)) != len(headings):
            raise InputError(f"section headings must be different from each other: {headings}")
        if any(len(h) > 200 for h in headings) or len(title) > 200 or len(group) > 200:
            raise InputError("titles, group names and section headings are limited to 200 characters")
        author, stamp = _clean_author(author), now()
        with self._transaction() as connection:
            plan_id = connection.execute(sa.insert(plans).values(
                title=title, template=template, language=language, group_label=(group or "").strip(),
                sections=headings, current_version=1, created_at=stamp, created_by=author, updated_at=stamp,
                updated_by=author)).inserted_primary_key[0]
            connection.execute(sa.insert(plan_versions).values(
                plan_id=plan_id, version=1, base_version=None, section=None, content=None, author=author,
                created_at=stamp))
            for person, level in grants.items():
                if person != author:
                    connection.execute(sa.insert(plan_grants).values(plan_id=plan_id, person=person, level=level,
                                                                     granted_by=author, granted_at=stamp))
        return self.get_plan(int(plan_id))

    def _plan_row(self, connection: Connection, plan_id: int, *, for_update: bool = False,
                  who: str | None = None, needs: str = "read") -> Any:
        """The plan's row; with ``who``, only if that person may ``needs`` (read / write / own) it. A plan they
        may not read is answered exactly like one that does not exist."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plans

        query = sa.select(plans).where(plans.c.id == plan_id)
        if for_update:  # PostgreSQL: writers of one plan queue here (SQLite: BEGIN IMMEDIATE already did)
            query = query.with_for_update()
        row = connection.execute(query).one_or_none()
        level = None if row is None else (self._level(connection, row, who) if who is not None else "own")
        if row is None or level is None:
            raise InputError(f"there is no plan {plan_id} you can read; plan_list shows the plans shared with you "
                             "and their ids")
        if _RANK[level] < _RANK[needs]:
            if needs == "own":
                raise InputError(f"only the plan's creator ({row.created_by}) can change who may read or write plan "
                                 f"{plan_id}")
            raise InputError(f"plan {plan_id} is shared with you to read, not to write; ask its creator "
                             f"({row.created_by}) to share it with you to write (plan_share)")
        return row

    @staticmethod
    def _level(connection: Connection, row: Any, who: str) -> str | None:
        """own, write, read or None: what ``who`` may do with the plan in ``row``."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plan_grants

        if row.created_by == who:
            return "own"
        found = connection.execute(sa.select(plan_grants.c.level).where(
            plan_grants.c.plan_id == row.id, plan_grants.c.person.in_([who, EVERYONE]))).scalars().all()
        return max(found, key=lambda level: _RANK[level]) if found else None

    def plan_level(self, plan_id: int, who: str) -> str | None:
        """own, write, read or None (no such plan, or not shared with ``who``)."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plans

        with self._transaction() as connection:
            row = connection.execute(sa.select(plans).where(plans.c.id == plan_id)).one_or_none()
            return None if row is None else self._level(connection, row, who)

    def share_plan(self, plan_id: int, *, owner: str, person: str, level: str) -> list[Grant]:
        """Give ``person`` (a name, or "*" for everyone) ``level`` (read / write) on a plan ``owner`` created, or
        take it away (``level`` "none"). Returns the plan's grants after the change."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plan_grants

        person = storable_text((person or "").strip(), "the person")[:200]
        if not person:
            raise InputError("name the person to share with (their name on this server), or '*' for everyone")
        if level not in (*LEVELS, "none"):
            raise InputError(f"level must be read, write or none (to stop sharing), not {level!r}")
        with self._transaction() as connection:
            self._plan_row(connection, plan_id, who=owner, needs="own")
            if person == owner:
                raise InputError("you created this plan: you can always read and write it")
            connection.execute(sa.delete(plan_grants).where(plan_grants.c.plan_id == plan_id,
                                                            plan_grants.c.person == person))
            if level != "none":
                connection.execute(sa.insert(plan_grants).values(plan_id=plan_id, person=person, level=level,
                                                                 granted_by=owner, granted_at=now()))
        return self.grants(plan_id)

    def grants(self, plan_id: int) -> list[Grant]:
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plan_grants

        with self._transaction() as connection:
            rows = connection.execute(sa.select(plan_grants).where(plan_grants.c.plan_id == plan_id)
                                      .order_by(plan_grants.c.person)).all()
        return [Grant(person=r.person, level=r.level, granted_by=r.granted_by, granted_at=as_utc(r.granted_at))
                for r in rows]

    def get_plan(self, plan_id: int, version: int | None = None, *, who: str | None = None) -> PlanState:
        """The plan as it is now, or as it was at ``version`` (with ``who``: only a plan that person may read)."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plan_versions

        with self._transaction() as connection:
            row = self._plan_row(connection, plan_id, who=who)
            wanted = row.current_version if version is None else int(version)
            if not 1 <= wanted <= row.current_version:
                raise InputError(f"plan {plan_id} has versions 1 to {row.current_version}, not {version}")
            versions = connection.execute(
                sa.select(plan_versions).where(plan_versions.c.plan_id == plan_id,
                                               plan_versions.c.version <= wanted)
                .order_by(plan_versions.c.version)).all()
        latest: dict[str, Any] = {}
        for item in versions:
            if item.section is not None:
                latest[item.section] = item
        sections = tuple(
            SectionState(heading=h, markdown=latest[h].content or "", version=latest[h].version,
                         author=latest[h].author, changed_at=as_utc(latest[h].created_at))
            if h in latest else SectionState(heading=h, markdown="", version=None, author=None, changed_at=None)
            for h in row.sections)
        last = versions[-1]
        return PlanState(id=row.id, title=row.title, template=row.template, language=row.language,
                         group=row.group_label, version=wanted, current_version=row.current_version,
                         sections=sections, created_at=as_utc(row.created_at), created_by=row.created_by,
                         changed_at=as_utc(last.created_at), changed_by=last.author)

    def write_section(self, plan_id: int, section: str | int, markdown: str, *, base_version: int,
                      author: str, check_access: bool = False,
                      readable: Callable[[Sequence[str]], list[str]] | None = None) -> WriteOutcome:
        """Write one section's whole markdown as a new version, if the section has not changed since
        ``base_version``; else raise :class:`StaleVersion` with the current version and the diff since.

        ``check_access``: the author must own the plan or have been given write. ``readable(ids)``: which of the
        cited evidence ids the author may read (a citation of anything else is refused as unknown, so a plan
        never carries figures its writer could not see)."""
        import sqlalchemy as sa
        from sqlalchemy.exc import IntegrityError

        from retention_mcp.workspace.schema import plan_versions, plans

        markdown = storable_text((markdown or "").replace("\r\n", "\n").strip(), "the section text") + "\n"
        if isinstance(section, str):
            storable_text(section, "the section name")
        first, _, rest = markdown.partition("\n")
        if first.startswith("#") and isinstance(section, str) and _norm_heading(first) == _norm_heading(section):
            markdown = rest.strip() + "\n"  # the plan prints the heading itself
        if len(markdown) > MAX_SECTION_CHARS:
            raise InputError(f"the section is {len(markdown):,} characters; the limit is {MAX_SECTION_CHARS:,}. "
                             "Shorten it or move detail into an exported appendix")
        cited = cited_ids(markdown)
        missing = self.missing_evidence(cited)
        if readable is not None and not missing:
            allowed = set(readable(cited))
            missing = [i for i in cited if i not in allowed]
        if missing:
            raise InputError(
                f"unknown evidence id(s): {', '.join(missing)}. Cite only the evidence_id values that tool "
                "results returned (evidence_get shows one); nothing was written")
        author = _clean_author(author)
        for _attempt in range(MAX_WRITE_ATTEMPTS):
            try:
                with self._transaction() as connection:
                    row = self._plan_row(connection, plan_id, for_update=True,
                                         who=author if check_access else None, needs="write")
                    heading = resolve_section(row.sections, section)
                    current = row.current_version
                    if not 1 <= base_version <= current:
                        raise InputError(f"base_version must be a version of plan {plan_id} (1 to {current}), "
                                         f"not {base_version}; use the version plan_get returned")
                    changes = connection.execute(
                        sa.select(plan_versions.c.version, plan_versions.c.section, plan_versions.c.author)
                        .where(plan_versions.c.plan_id == plan_id, plan_versions.c.version > base_version)
                        .order_by(plan_versions.c.version)).all()
                    if any(c.section == heading for c in changes):
                        latest = max([current, *(c.version for c in changes)])
                        raise self._stale(connection, plan_id, heading, base_version, latest, changes)
                    stamp = now()
                    swapped = connection.execute(
                        sa.update(plans).where(plans.c.id == plan_id, plans.c.current_version == current)
                        .values(current_version=current + 1, updated_at=stamp, updated_by=author))
                    if swapped.rowcount != 1:
                        raise _Retry("another write landed first")
                    connection.execute(sa.insert(plan_versions).values(
                        plan_id=plan_id, version=current + 1, base_version=base_version, section=heading,
                        content=markdown, author=author, created_at=stamp))
            except (_Retry, IntegrityError):
                continue
            merged = tuple(dict.fromkeys(c.section for c in changes if c.section))
            return WriteOutcome(plan_id=plan_id, version=current + 1, section=heading, base_version=base_version,
                                cited=tuple(cited), uncited=tuple(uncited_numbers(markdown)),
                                merged_changes=merged)
        raise InputError(f"plan {plan_id} is being written by many people at once; nothing was written. "
                         "Read it again (plan_get) and retry")

    def _stale(self, connection: Connection, plan_id: int, heading: str, base_version: int, current: int,
               changes: Sequence[Any]) -> StaleVersion:
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plan_versions

        def content_at(version: int) -> str:
            found = connection.execute(
                sa.select(plan_versions.c.content).where(
                    plan_versions.c.plan_id == plan_id, plan_versions.c.section == heading,
                    plan_versions.c.version <= version)
                .order_by(plan_versions.c.version.desc()).limit(1)).scalar_one_or_none()
            return found or ""

        diff = unified_diff(content_at(base_version), content_at(current), f"v{base_version}/{heading}",
                            f"v{current}/{heading}")
        ours = [c for c in changes if c.section == heading]
        by = ", ".join(f"v{c.version} by {c.author}" for c in ours)
        message = (f"stale write refused: plan {plan_id}, section {heading!r} changed after version {base_version} "
                   f"({by}); the plan is now at version {current}. Nothing was written. Merge your text into the "
                   f"current section (plan_get) and write again with base_version={current}.\n"
                   f"What changed in {heading!r} since version {base_version}:\n```diff\n{diff}```")
        return StaleVersion(message, current_version=current, diff=diff)

    def list_plans(self, limit: int = 100, *, who: str | None = None) -> list[PlanSummary]:
        """The newest-changed plans first; with ``who``, only those that person created or was given."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plan_grants, plans

        query = sa.select(plans)
        if who is not None:
            shared = sa.select(plan_grants.c.plan_id).where(plan_grants.c.person.in_([who, EVERYONE]))
            query = query.where(sa.or_(plans.c.created_by == who, plans.c.id.in_(shared)))
        with self._transaction() as connection:
            rows = connection.execute(query.order_by(plans.c.updated_at.desc(), plans.c.id.desc())
                                      .limit(max(1, min(int(limit), 1000)))).all()
        return [PlanSummary(id=r.id, title=r.title, template=r.template, language=r.language, group=r.group_label,
                            current_version=r.current_version, created_by=r.created_by,
                            updated_at=as_utc(r.updated_at), updated_by=r.updated_by) for r in rows]

    def history(self, plan_id: int, *, who: str | None = None) -> list[VersionInfo]:
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plan_versions

        with self._transaction() as connection:
            self._plan_row(connection, plan_id, who=who)
            rows = connection.execute(
                sa.select(plan_versions.c.version, plan_versions.c.base_version, plan_versions.c.section,
                          plan_versions.c.author, plan_versions.c.created_at,
                          sa.func.length(plan_versions.c.content).label("chars"))
                .where(plan_versions.c.plan_id == plan_id).order_by(plan_versions.c.version)).all()
        return [VersionInfo(version=r.version, base_version=r.base_version, section=r.section, author=r.author,
                            created_at=as_utc(r.created_at), chars=int(r.chars or 0)) for r in rows]

    # -- evidence

    def record_evidence(self, tool: str, arguments: dict[str, Any], sources: list[dict[str, Any]],
                        definition: str, figures: dict[str, FigureValue], author: str, *,
                        period: dict[str, Any] | None = None, units: dict[str, str] | None = None,
                        charts: list[dict[str, Any]] | None = None,
                        parents: Sequence[tuple[str, str]] = (), scope: dict[str, Any] | None = None) -> str:
        """Store what a tool computed and from what; return its new id, e.g. ``ev-3f9a2c``.

        ``sources``: ``[{"name": "hr.csv", "size": 1234, "modified": "2026-11-20T10:00:00",
        "sha256": "...", "format": "csv"}]``. Inline data arguments (``csv_text``) are kept only as a
        fingerprint (size and SHA-256): HR rows never enter the workspace. ``period`` is the period the result
        was computed for, resolved; ``parents`` the ``(evidence id, argument)`` of each result it was computed
        from, stored in the same transaction (an id that is not in the workspace is an InputError).
        """
        import sqlalchemy as sa
        from sqlalchemy.exc import IntegrityError

        from retention_mcp.workspace.schema import evidence, evidence_links

        values = dict(tool=str(tool)[:100], arguments=clean_arguments(arguments),
                      sources=_json_value(list(sources or [])), definition=str(definition or ""),
                      figures=clean_figures(figures), author=_clean_author(author), created_at=now(),
                      period=_json_value(dict(period or {})), figure_units=_json_value(dict(units or {})),
                      charts=_json_value(list(charts or [])), scope=_json_value(scope) if scope else None)
        edges = sorted({(str(p).strip().lower(), str(a)[:100]) for p, a in parents})
        missing = self.missing_evidence(sorted({p for p, _ in edges}))
        if missing:
            raise InputError(f"unknown evidence id(s) {', '.join(missing)}: a result can only be computed from "
                             "evidence in the workspace")
        for attempt in range(10):
            evidence_id = EVIDENCE_PREFIX + secrets.token_hex(3 if attempt < 5 else 5)
            try:
                with self._transaction() as connection:
                    connection.execute(sa.insert(evidence).values(id=evidence_id, **values))
                    if edges:
                        connection.execute(sa.insert(evidence_links), [
                            {"child_id": evidence_id, "parent_id": p, "argument": a} for p, a in edges])
                return evidence_id
            except IntegrityError:  # that id is taken: draw another
                continue
        raise RuntimeError("could not draw an unused evidence id in 10 attempts")

    def attach_chart_file(self, evidence_id: str, index: int, filename: str) -> None:
        """Record the PNG file written for chart ``index`` of an evidence record (charts are drawn after the id is
        known, so the file can be named after it)."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import evidence

        with self._transaction() as connection:
            charts = connection.execute(sa.select(evidence.c.charts).where(evidence.c.id == evidence_id)).scalar()
            charts = list(charts or [])
            if not 0 <= index < len(charts):
                return
            charts[index] = {**charts[index], "file": filename}
            connection.execute(sa.update(evidence).where(evidence.c.id == evidence_id).values(charts=charts))

    def get_evidence(self, evidence_id: str) -> Evidence | None:
        found = self.get_evidence_many([evidence_id])
        return found.get(evidence_id.strip().lower())

    def get_evidence_many(self, ids: Sequence[str]) -> dict[str, Evidence]:
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import evidence

        # Only what could be an id is looked up: a NUL, a surrogate or a megabyte of text is simply not found.
        wanted = sorted({i.strip().lower() for i in ids if i and _EVIDENCE_ID.match(i.strip().lower())})
        if not wanted:
            return {}
        from retention_mcp.workspace.schema import evidence_links

        with self._transaction() as connection:
            rows = connection.execute(sa.select(evidence).where(evidence.c.id.in_(wanted))).all()
            links = connection.execute(sa.select(evidence_links).where(sa.or_(
                evidence_links.c.child_id.in_(wanted), evidence_links.c.parent_id.in_(wanted)))
                .order_by(evidence_links.c.child_id, evidence_links.c.parent_id, evidence_links.c.argument)).all()
        edges = [Link(child=link.child_id, parent=link.parent_id, argument=link.argument) for link in links]
        return {r.id: Evidence(id=r.id, tool=r.tool, arguments=r.arguments, sources=r.sources,
                               definition=r.definition, figures=r.figures, author=r.author,
                               created_at=as_utc(r.created_at), scope=r.scope, period=dict(r.period or {}),
                               units=dict(r.figure_units or {}), charts=list(r.charts or []),
                               parents=tuple(e for e in edges if e.child == r.id),
                               children=tuple(e for e in edges if e.parent == r.id)) for r in rows}

    def ancestry(self, ids: Sequence[str]) -> dict[str, Evidence]:
        """``ids`` and every result they were computed from, transitively (the graph a refresh re-runs)."""
        found: dict[str, Evidence] = {}
        wanted = [i for i in ids if i]
        while wanted:
            batch = self.get_evidence_many(wanted)
            found.update(batch)
            wanted = sorted({link.parent for item in batch.values() for link in item.parents} - set(found))
        return found


    def cited_in_readable_plans(self, ids: Sequence[str], who: str) -> set[str]:
        """Which ``ids`` some version of a plan ``who`` may read cites (sharing a plan shares what it cites)."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import plan_grants, plan_versions, plans

        wanted = sorted({i for i in ids if _EVIDENCE_ID.match(i)})
        if not wanted:
            return set()
        shared = sa.select(plan_grants.c.plan_id).where(plan_grants.c.person.in_([who, EVERYONE]))
        readable = sa.select(plans.c.id).where(sa.or_(plans.c.created_by == who, plans.c.id.in_(shared)))
        found: set[str] = set()
        with self._transaction() as connection:
            for evidence_id in wanted:
                texts = connection.execute(sa.select(plan_versions.c.content).where(
                    plan_versions.c.plan_id.in_(readable),
                    plan_versions.c.content.contains(evidence_id, autoescape=True))).scalars()
                if any(evidence_id in cited_ids(text or "") for text in texts):  # not a longer id containing it
                    found.add(evidence_id)
        return found

    # -- files written into the output folder

    def record_file(self, name: str, *, author: str, plan_id: int | None, scope: dict[str, Any] | None) -> None:
        """Who wrote the output file ``name`` (an export replacing a file replaces its record too)."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import files

        values = dict(author=_clean_author(author), plan_id=plan_id, scope=_json_value(scope) if scope else None,
                      created_at=now())
        with self._transaction() as connection:
            connection.execute(sa.delete(files).where(files.c.name == name))
            connection.execute(sa.insert(files).values(name=name, **values))

    def file_records(self, names: Sequence[str]) -> dict[str, FileRecord]:
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import files

        if not names:
            return {}
        with self._transaction() as connection:
            rows = connection.execute(sa.select(files).where(files.c.name.in_(list(names)))).all()
        return {r.name: FileRecord(name=r.name, author=r.author, plan_id=r.plan_id, scope=r.scope,
                                   created_at=as_utc(r.created_at)) for r in rows}

    def missing_evidence(self, ids: Sequence[str]) -> list[str]:
        found = self.get_evidence_many(ids)
        return [i for i in ids if i not in found]

    # -- team templates

    def save_template(self, name: str, language: str, source: str, author: str) -> SavedTemplate:
        """Store a new version of a team template (validate it first: see workspace.templates)."""
        storable_text(source, "the template")
        from retention_mcp.workspace.schema import templates

        author = _clean_author(author)
        version, stamp = self._insert_next_version(
            templates, {"name": name, "language": language}, {"source": source, "author": author},
            f"template {name!r} is being saved by many people at once; try again")
        return SavedTemplate(name=name, language=language, version=version, source=source, author=author,
                             created_at=stamp)

    def _insert_next_version(self, table: Any, key: dict[str, Any], values: dict[str, Any],
                             busy: str) -> tuple[int, dt.datetime]:
        """Insert a row of ``table`` for ``key`` numbered one past its newest version; (version, time). A writer
        that saves the same key at the same moment loses the primary key race and takes the next number."""
        import sqlalchemy as sa
        from sqlalchemy.exc import IntegrityError

        for _attempt in range(MAX_WRITE_ATTEMPTS):
            stamp = now()
            try:
                with self._transaction() as connection:
                    latest = connection.execute(sa.select(sa.func.max(table.c.version)).where(
                        *(table.c[column] == value for column, value in key.items()))).scalar()
                    version = int(latest or 0) + 1
                    connection.execute(sa.insert(table).values(**key, **values, version=version, created_at=stamp))
            except IntegrityError:
                continue
            return version, stamp
        raise InputError(busy)

    def _version_row(self, table: Any, key: dict[str, Any], version: int | None) -> Any:
        """The row of ``table`` for ``key`` at ``version`` (or its newest), or None."""
        import sqlalchemy as sa

        query = sa.select(table).where(*(table.c[column] == value for column, value in key.items()))
        query = query.where(table.c.version == version) if version else query.order_by(
            table.c.version.desc()).limit(1)
        with self._transaction() as connection:
            return connection.execute(query).one_or_none()

    def latest_template_versions(self) -> list[tuple[str, str, int]]:
        """(name, language, newest version) of every saved template."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import templates

        with self._transaction() as connection:
            rows = connection.execute(
                sa.select(templates.c.name, templates.c.language, sa.func.max(templates.c.version))
                .group_by(templates.c.name, templates.c.language)).all()
        return [(r[0], r[1], int(r[2])) for r in rows]

    def get_template(self, name: str, language: str, version: int | None = None) -> SavedTemplate | None:
        from retention_mcp.workspace.schema import templates

        row = self._version_row(templates, {"name": name, "language": language}, version)
        if row is None:
            return None
        return SavedTemplate(name=row.name, language=row.language, version=row.version, source=row.source,
                             author=row.author, created_at=as_utc(row.created_at))

    def template_history(self, name: str, language: str) -> list[SavedTemplate]:
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import templates

        with self._transaction() as connection:
            rows = connection.execute(sa.select(templates).where(
                templates.c.name == name, templates.c.language == language).order_by(templates.c.version)).all()
        return [SavedTemplate(name=r.name, language=r.language, version=r.version, source=r.source, author=r.author,
                              created_at=as_utc(r.created_at)) for r in rows]

    # -- linked datasets

    def save_dataset(self, name: str, definition: dict[str, Any], author: str) -> SavedDataset:
        """Store a new version of a linked dataset's definition (validated by the caller)."""
        from retention_mcp.workspace.schema import datasets

        author = _clean_author(author)
        version, stamp = self._insert_next_version(
            datasets, {"name": name}, {"definition": _json_value(definition), "author": author},
            f"dataset {name!r} is being saved by many people at once; try again")
        return SavedDataset(name=name, version=version, definition=definition, author=author, created_at=stamp)

    def get_dataset(self, name: str, version: int | None = None) -> SavedDataset | None:
        """The newest version of a linked dataset (or ``version``), or None."""
        from retention_mcp.workspace.schema import datasets

        row = self._version_row(datasets, {"name": name}, version)
        if row is None:
            return None
        return SavedDataset(name=row.name, version=row.version, definition=row.definition, author=row.author,
                            created_at=as_utc(row.created_at))

    def list_datasets(self) -> list[SavedDataset]:
        """The newest version of every linked dataset, by name."""
        import sqlalchemy as sa

        from retention_mcp.workspace.schema import datasets

        newest = (sa.select(datasets.c.name, sa.func.max(datasets.c.version).label("version"))
                  .group_by(datasets.c.name).subquery())
        with self._transaction() as connection:
            rows = connection.execute(
                sa.select(datasets).join(newest, sa.and_(datasets.c.name == newest.c.name,
                                                         datasets.c.version == newest.c.version))
                .order_by(datasets.c.name)).all()
        return [SavedDataset(name=r.name, version=r.version, definition=r.definition, author=r.author,
                             created_at=as_utc(r.created_at)) for r in rows]


_workspaces: dict[str, Workspace] = {}
_workspaces_lock = threading.Lock()


def workspace_for(settings: Settings) -> Workspace:
    """The process's Workspace for the configured database (opened lazily; cheap to call per request)."""
    url = database_url(settings)
    with _workspaces_lock:
        found = _workspaces.get(url)
        if found is None:
            found = _workspaces[url] = Workspace(url)
    return found
