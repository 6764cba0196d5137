"""One place for configuration: command-line flags, environment variables, defaults.

Every flag has an environment variable of the same meaning (``RETENTION_MCP_*``); a flag wins over
its variable, the variable over the default. Paths are resolved once, here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from retention_mcp.access import Access

ENV_PREFIX = "RETENTION_MCP_"

#: Environment variables the server reads, with what each means (also listed in server.json).
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "RETENTION_MCP_DATA_DIRS": "Folders the tools may read HR files from, separated by the OS path "
    "separator (':' on Linux/macOS, ';' on Windows). Default: the current directory, unless that is the "
    "filesystem root, the home folder itself or a system folder (then none: pass --data-dir).",
    "RETENTION_MCP_OUTPUT_DIR": "Folder that export_report writes into. Default: ./retention-mcp-output, or "
    "a per-user folder when the current directory is not a safe place to write.",
    "RETENTION_MCP_PROMPTS_DIR": "A team folder of prompt templates that adds to or overrides the bundled ones.",
    "RETENTION_MCP_CATALOG_DIR": "A team folder of catalog YAML files (KPI catalog, cost presets, "
    "column aliases) that override the bundled ones.",
    "RETENTION_MCP_LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR (stderr only). Default: INFO",
    "RETENTION_MCP_LANGUAGE": "Default prompt language, en or zh. Default: en",
    "RETENTION_MCP_MIN_GROUP_SIZE": "Smallest group whose figures are shown; a call may raise it, never lower it. "
    "Default: 5",
    "RETENTION_MCP_ALLOW_NAMES": "Set to 1 to show people's real names (agents, managers) instead of stable "
    "pseudonyms. Default: off",
    "RETENTION_MCP_PRIVACY_MODE": "exact (figures as computed; small groups suppressed) or protected (counts, sums "
    "and means perturbed by the cell key method on top, so no two calls can be subtracted). Default: exact over "
    "stdio, protected for serve --http",
    "RETENTION_MCP_CALL_TIMEOUT_S": "Longest a tool call may run, in seconds; then it is stopped. Default: 120",
    "RETENTION_MCP_CALL_MEMORY_MB": "Most memory a tool call may use, in MB; then it is stopped. Default: 2048",
    "RETENTION_MCP_TOOL_WORKERS": "Worker processes that run tool calls (calls beyond this wait). "
    "Default: the number of CPU cores, at least 2, at most 8",
    "RETENTION_MCP_MAX_FILE_MB": "Largest data file the tools will read, in MB. Default: 200",
    "RETENTION_MCP_MAX_CELLS": "Largest table a data file may hold or declare (rows × columns; for XLSX, the "
    "span of a sheet's cells), checked before parsing. Default: 50000000",
    "RETENTION_MCP_MAX_UNCOMPRESSED_MB": "Largest size an XLSX or Parquet file may unpack to, in MB, checked "
    "before parsing. Default: 1024",
    "RETENTION_MCP_MAX_COMPRESSION_RATIO": "Largest compression ratio of a part of an XLSX file (zip-bomb "
    "guard). Default: 200",
    "RETENTION_MCP_TOKEN": "Bearer token required by the HTTP server (required beyond loopback).",
    "RETENTION_MCP_TOKEN_FILE": "A file holding the bearer token for the HTTP server.",
    "RETENTION_MCP_ALLOWED_HOSTS": "Extra Host header values the HTTP server accepts, comma separated "
    "(e.g. its name behind a proxy).",
    "RETENTION_MCP_MAX_REQUEST_KB": "Largest HTTP request body, in KB. Default: 8000",
    # workspace (workspace branch)
    "RETENTION_MCP_DATABASE_URL": "Where the strategy workspace (plans, evidence, saved templates) is stored: a "
    "SQLAlchemy URL such as postgresql+psycopg://user@host/db for a team. Default: SQLite in the user's data folder.",
    "RETENTION_MCP_TOKENS_FILE": "A file of per-person bearer tokens for the HTTP server, one 'name: token' "
    "line each, optionally followed by a role (analyst, manager, viewer) and a manager's scope, e.g. "
    "'Zhang Min: <token> manager department=研发部' ('#' starts a comment); the name is recorded as the author "
    "of what that person saves.",
    "RETENTION_MCP_OAUTH_ISSUER": "OAuth 2.1 sign-in for serve --http: the issuer URL of the company's identity "
    "provider; bearer tokens are then also accepted as JWT access tokens it signed (checked against its JWKS, "
    "the issuer, this server as audience and the expiry). Default: off",
    "RETENTION_MCP_OAUTH_AUDIENCE": "The audience (aud) an OAuth access token must name. Default: the public URL "
    "of the MCP endpoint",
    "RETENTION_MCP_OAUTH_ROLES": "Which OAuth scopes give which role, as scope=role pairs separated by commas. "
    "Default: retention:analyst=analyst,retention:manager=manager,retention:viewer=viewer",
    "RETENTION_MCP_OAUTH_JWKS_URL": "Where the identity provider publishes its signing keys. Default: the "
    "jwks_uri of the issuer's discovery document",
    "RETENTION_MCP_OAUTH_NAME_CLAIM": "The token claim that names the person (the author of what they write). "
    "Default: preferred_username, then email, then sub",
    "RETENTION_MCP_OAUTH_ROWS_CLAIM": "The token claim with a manager's row scope, e.g. {\"department\": "
    "\"研发部\"} or \"department=研发部\". Default: retention_rows",
    "RETENTION_MCP_OAUTH_HIDE_CLAIM": "The token claim with the column classes or columns hidden from a manager. "
    "Default: retention_hide (absent: the role's default, no pay columns)",
    "RETENTION_MCP_PUBLIC_URL": "The MCP endpoint's URL as clients reach it (behind a proxy), e.g. "
    "https://hr-tools.example.com/mcp: the resource OAuth tokens are issued for. Default: http://HOST:PORT/mcp",
    "RETENTION_MCP_HEADER_TIMEOUT": "Seconds an HTTP client may take to send complete request headers. Default: 10",
    "RETENTION_MCP_BODY_TIMEOUT": "Seconds an HTTP client may take to send a request body. Default: 30",
}

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LANGUAGES = ("en", "zh")
PRIVACY_MODES = ("exact", "protected")


def unsafe_folder(folder: Path) -> str | None:
    """Why ``folder`` must not be a default place to read or write (None when it is fine).

    Desktop clients often start servers from ``/`` or the app's own folder: the server must not then
    read any CSV on the disk, nor create folders there."""
    folder = folder.resolve()
    if folder == Path(folder.anchor):
        return "the filesystem root"
    try:
        home = Path.home().resolve()
    except RuntimeError:
        home = None
    if home is not None and folder == home:
        return "your home folder itself"
    system = [Path(p) for p in ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys",
                                "/usr", "/var", "/opt", "/System", "/Library", "/Applications", "/private",
                                "/Volumes")]
    for name in ("SystemRoot", "ProgramFiles", "ProgramFiles(x86)", "ProgramData"):
        if os.environ.get(name):
            system.append(Path(os.environ[name]))
    for root in system:
        if folder == root or folder.is_relative_to(root):
            return f"a system folder ({root})"
    return None


def data_folder_problem(folder: Path) -> str | None:
    """Why the server cannot read files from ``folder`` (with what to fix), or None when it can."""
    if not folder.exists():
        return (f"the data folder {folder} does not exist; create it, or start the server with --data-dir (or "
                "RETENTION_MCP_DATA_DIRS) pointing at the folder that holds your HR exports, as an absolute path")
    if not folder.is_dir():
        return f"the data folder {folder} is a file, not a folder; point --data-dir at the folder that holds it"
    if not os.access(folder, os.R_OK | os.X_OK):
        return (f"the data folder {folder} cannot be read by the user the server runs as; make it readable (chmod "
                "u+rx) or point --data-dir elsewhere")
    return None


def output_folder_problem(folder: Path) -> str | None:
    """Why the server cannot write reports into ``folder`` (with what to fix), or None when it can (a folder
    that does not exist yet is fine when its parent can take it: it is created at the first export)."""
    existing = folder if folder.exists() else folder.parent
    if folder.exists() and not folder.is_dir():
        return f"the output folder {folder} is a file, not a folder; point --output-dir at a folder"
    if not existing.exists():
        return (f"the output folder {folder} cannot be created: {existing} does not exist; create it, or start the "
                "server with --output-dir (or RETENTION_MCP_OUTPUT_DIR) pointing at a writable folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        return (f"the output folder {folder} cannot be written by the user the server runs as; make it writable or "
                "point --output-dir elsewhere")
    return None


def folder_problems(settings: Settings) -> list[str]:
    """Every configured folder the server cannot use, each with what to fix ([] when all is well)."""
    problems = [problem for folder in settings.data_dirs if (problem := data_folder_problem(folder))]
    if (problem := output_folder_problem(settings.output_dir)) is not None:
        problems.append(problem)
    return problems


def user_data_dir() -> Path:
    """The per-user folder for the server's own files (workspace database, default outputs):
    ~/.local/share/retention-mcp, ~/Library/Application Support/retention-mcp, %LOCALAPPDATA%\\retention-mcp."""
    import platformdirs

    return Path(platformdirs.user_data_dir("retention-mcp", appauthor=False))


def _default_data_dirs() -> tuple[Path, ...]:
    cwd = Path.cwd().resolve()
    return () if unsafe_folder(cwd) else (cwd,)


def _default_output_dir() -> Path:
    cwd = Path.cwd().resolve()
    return user_data_dir() / "output" if unsafe_folder(cwd) else cwd / "retention-mcp-output"


def _default_workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))


@dataclass(frozen=True)
class Settings:
    """Configuration shared by the server, the tools and the CLI."""

    data_dirs: tuple[Path, ...] = field(default_factory=_default_data_dirs)
    output_dir: Path = field(default_factory=_default_output_dir)
    prompts_dir: Path | None = None
    catalog_dir: Path | None = None
    log_level: str = "INFO"
    language: str = "en"
    #: tools/list carries each tool's output schema (clients with a small budget may want the list without)
    list_output_schemas: bool = True
    # disclosure policy and bounded work
    min_group_size: int = 5
    allow_names: bool = False
    #: exact | protected; None = the transport's default (exact over stdio, protected for serve --http)
    privacy_mode: str | None = None
    #: what one caller may see (a manager's department, no pay columns): applied at the one intake
    access: Access | None = None
    call_timeout_s: float = 120.0
    call_memory_mb: float = 2048.0
    tool_workers: int = field(default_factory=_default_workers)
    max_file_mb: float = 200.0
    max_csv_text_kb: float = 5_000.0
    # file reading (reader branch)
    max_cells: int = 50_000_000
    max_uncompressed_mb: float = 1_024.0
    max_compression_ratio: float = 200.0
    # HTTP serving (issue 7)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    token: str | None = field(default=None, repr=False)
    max_request_kb: float = 8_000.0
    # workspace (workspace branch)
    #: SQLAlchemy URL of the workspace database; None = SQLite in the per-user data folder
    #: (see retention_mcp.workspace.engine.database_url). Not in repr: it may hold a password.
    database_url: str | None = field(default=None, repr=False)
    # HTTP hardening (http branch)
    #: "name: token" lines, one person each, so the server knows who called (the shared token is "team")
    tokens_file: Path | None = None
    #: seconds a connection may take to send complete request headers, then the body
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    # OAuth 2.1 resource server (issue 19)
    #: the identity provider that signs access tokens; None = no OAuth sign-in
    oauth_issuer: str | None = None
    #: the aud a token must carry; None = the public URL
    oauth_audience: str | None = None
    #: "scope=role,..." ; None = tools/access.yaml's map
    oauth_roles: str | None = None
    oauth_jwks_url: str | None = None
    oauth_name_claim: str | None = None
    oauth_rows_claim: str = "retention_rows"
    oauth_hide_claim: str = "retention_hide"
    #: the MCP endpoint as clients reach it; None = http://HOST:PORT/mcp
    public_url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.min_group_size, int) or self.min_group_size < 1:
            raise ValueError(f"minimum group size must be a whole number of at least 1, not {self.min_group_size!r}")
        for name in ("call_timeout_s", "call_memory_mb"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be positive")
        if not isinstance(self.tool_workers, int) or self.tool_workers < 1:
            raise ValueError(f"tool workers must be a whole number of at least 1, not {self.tool_workers!r}")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {self.language!r}")
        if self.privacy_mode is not None:
            mode = str(self.privacy_mode).strip().lower()
            if mode not in PRIVACY_MODES:
                raise ValueError(f"privacy mode must be one of {', '.join(PRIVACY_MODES)}, not {self.privacy_mode!r}")
            object.__setattr__(self, "privacy_mode", mode)
        object.__setattr__(self, "log_level", self.log_level.upper())
        object.__setattr__(self, "data_dirs", tuple(Path(d).expanduser().resolve() for d in self.data_dirs))
        object.__setattr__(self, "output_dir", Path(self.output_dir).expanduser().resolve())
        for name in ("prompts_dir", "catalog_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).expanduser().resolve())

    def mode_for_call(self) -> str:
        """The privacy mode of one call: the caller's (a manager is always protected), else the server's."""
        if self.access is not None and self.access.mode is not None:
            return self.access.mode
        return self.privacy_mode or "exact"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_csv_text_bytes(self) -> int:
        return int(self.max_csv_text_kb * 1024)

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (handy in tests and notebooks)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``RETENTION_MCP_*`` variables; keyword ``overrides`` (flags) win."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value not in (None, "") else None

        values: dict[str, object] = {}
        if dirs := get("DATA_DIRS"):
            values["data_dirs"] = tuple(Path(p) for p in dirs.split(os.pathsep) if p)
        for key, name in (("output_dir", "OUTPUT_DIR"), ("prompts_dir", "PROMPTS_DIR"),
                          ("catalog_dir", "CATALOG_DIR")):
            if value := get(name):
                values[key] = Path(value)
        if value := get("LOG_LEVEL"):
            values["log_level"] = value
        if value := get("LANGUAGE"):
            values["language"] = value
        if value := get("MAX_FILE_MB"):
            values["max_file_mb"] = float(value)
        if value := get("MAX_CELLS"):
            values["max_cells"] = int(float(value))
        if value := get("MAX_UNCOMPRESSED_MB"):
            values["max_uncompressed_mb"] = float(value)
        if value := get("MAX_COMPRESSION_RATIO"):
            values["max_compression_ratio"] = float(value)
        if value := get("MAX_REQUEST_KB"):
            values["max_request_kb"] = float(value)
        if value := get("MIN_GROUP_SIZE"):
            values["min_group_size"] = int(value)
        if value := get("ALLOW_NAMES"):
            values["allow_names"] = value.strip().lower() in ("1", "true", "yes", "on")
        if value := get("PRIVACY_MODE"):
            values["privacy_mode"] = value
        if value := get("OUTPUT_SCHEMAS"):
            values["list_output_schemas"] = value.strip().lower() not in ("0", "false", "no", "off")
        if value := get("CALL_TIMEOUT_S"):
            values["call_timeout_s"] = float(value)
        if value := get("CALL_MEMORY_MB"):
            values["call_memory_mb"] = float(value)
        if value := get("TOOL_WORKERS"):
            values["tool_workers"] = int(value)
        if value := get("DATABASE_URL"):  # workspace (workspace branch)
            values["database_url"] = value
        if value := get("TOKENS_FILE"):
            values["tokens_file"] = Path(value).expanduser()
        if value := get("HEADER_TIMEOUT"):
            values["header_timeout_s"] = float(value)
        if value := get("BODY_TIMEOUT"):
            values["body_timeout_s"] = float(value)
        for key in ("oauth_issuer", "oauth_audience", "oauth_roles", "oauth_jwks_url", "oauth_name_claim",
                    "oauth_rows_claim", "oauth_hide_claim", "public_url"):
            if value := get(key.upper()):
                values[key] = value.strip()
        token = get("TOKEN")
        if token is None and (token_file := get("TOKEN_FILE")):
            token = Path(token_file).expanduser().read_text(encoding="utf-8").strip() or None
        if token:
            values["token"] = token
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
