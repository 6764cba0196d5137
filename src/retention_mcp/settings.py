"""One place for configuration: command-line flags, environment variables, defaults.

Every flag has an environment variable of the same meaning (``RETENTION_MCP_*``); a flag wins over
its variable, the variable over the default. Paths are resolved once, here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

ENV_PREFIX = "RETENTION_MCP_"

#: Environment variables the server reads, with what each means (also listed in server.json).
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "RETENTION_MCP_DATA_DIRS": "Folders the tools may read HR files from, separated by the OS path "
    "separator (':' on Linux/macOS, ';' on Windows). Default: the current directory.",
    "RETENTION_MCP_OUTPUT_DIR": "Folder that export_report and charts write into. "
    "Default: ./retention-mcp-output",
    "RETENTION_MCP_PROMPTS_DIR": "A team folder of prompt templates that adds to or overrides the bundled ones.",
    "RETENTION_MCP_CATALOG_DIR": "A team folder of catalog YAML files (KPI catalog, cost presets, "
    "column aliases) that override the bundled ones.",
    "RETENTION_MCP_LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR (stderr only). Default: INFO",
    "RETENTION_MCP_LANGUAGE": "Default prompt language, en or zh. Default: en",
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
}

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Settings:
    """Configuration shared by the server, the tools and the CLI."""

    data_dirs: tuple[Path, ...] = field(default_factory=lambda: (Path.cwd().resolve(),))
    output_dir: Path = field(default_factory=lambda: (Path.cwd() / "retention-mcp-output").resolve())
    prompts_dir: Path | None = None
    catalog_dir: Path | None = None
    log_level: str = "INFO"
    language: str = "en"
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

    def __post_init__(self) -> None:
        if not self.data_dirs:
            raise ValueError("at least one data folder is needed (--data-dir)")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {self.language!r}")
        object.__setattr__(self, "log_level", self.log_level.upper())
        object.__setattr__(self, "data_dirs", tuple(Path(d).expanduser().resolve() for d in self.data_dirs))
        object.__setattr__(self, "output_dir", Path(self.output_dir).expanduser().resolve())
        for name in ("prompts_dir", "catalog_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).expanduser().resolve())

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
        token = get("TOKEN")
        if token is None and (token_file := get("TOKEN_FILE")):
            token = Path(token_file).expanduser().read_text(encoding="utf-8").strip() or None
        if token:
            values["token"] = token
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
