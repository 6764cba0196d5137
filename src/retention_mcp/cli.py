"""Command line: ``retention-mcp`` (stdio server), ``retention-mcp serve --http``, ``retention-mcp demo``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from retention_mcp import __version__
from retention_mcp.settings import LANGUAGES, LOG_LEVELS, PRIVACY_MODES, Settings

logger = logging.getLogger("retention_mcp")


def _add_common(parser: argparse.ArgumentParser, *, subcommand: bool = False) -> None:
    """Options every command takes, before or after the subcommand.

    On a subcommand they default to SUPPRESS: argparse copies a subparser's defaults over the values
    the main parser already read, so ``--data-dir X serve`` would otherwise lose X. Given on both
    sides, the one after the subcommand wins.
    """
    unset = {"default": argparse.SUPPRESS} if subcommand else {}
    parser.add_argument("--data-dir", action="append", type=Path, dest="data_dirs", metavar="DIR", **unset,
                        help="folder the tools may read HR files from; repeat for several "
                             "(env RETENTION_MCP_DATA_DIRS; default: the current directory)")
    # A launcher passing a folder picker's list (the desktop bundle): every value up to the next option.
    parser.add_argument("--data-dirs", nargs="+", type=Path, dest="data_dir_list", metavar="DIR", **unset,
                        help="several data folders at once, as the last option (same as repeating --data-dir)")
    parser.add_argument("--output-dir", type=Path, metavar="DIR", **unset,
                        help="folder for exported reports and charts (env RETENTION_MCP_OUTPUT_DIR; "
                             "default ./retention-mcp-output)")
    parser.add_argument("--prompts-dir", type=Path, metavar="DIR", **unset,
                        help="team prompt templates that add to or override the bundled ones "
                             "(env RETENTION_MCP_PROMPTS_DIR)")
    parser.add_argument("--catalog-dir", type=Path, metavar="DIR", **unset,
                        help="team catalog YAML files (KPI catalog, cost presets, column aliases) "
                             "(env RETENTION_MCP_CATALOG_DIR)")
    parser.add_argument("--language", choices=LANGUAGES, **unset,
                        help="default prompt language (env RETENTION_MCP_LANGUAGE)")
    parser.add_argument("--database-url", metavar="URL", **unset,
                        help="workspace database (plans, evidence, team templates), e.g. "
                             "postgresql+psycopg://user@host/db (env RETENTION_MCP_DATABASE_URL; "
                             "default: SQLite in your user data folder)")
    parser.add_argument("--min-group-size", type=int, metavar="N", **unset,
                        help="smallest group whose figures are shown; calls may raise it, never lower it "
                             "(env RETENTION_MCP_MIN_GROUP_SIZE; default 5)")
    parser.add_argument("--no-output-schemas", action="store_false", dest="list_output_schemas",
                        default=unset.get("default"),
                        help="leave output schemas out of tools/list, for clients with a small context budget "
                             "(env RETENTION_MCP_OUTPUT_SCHEMAS=0; results keep their structured content)")
    parser.add_argument("--allow-names", action="store_true", default=unset.get("default"),
                        help="show people's real names (agents, managers) instead of pseudonyms "
                             "(env RETENTION_MCP_ALLOW_NAMES; default off)")
    parser.add_argument("--privacy-mode", choices=PRIVACY_MODES, type=str.lower, **unset,
                        help="exact: figures as computed, small groups suppressed (one analyst on their own files); "
                             "protected: counts, sums and means perturbed by the cell key method on top, so no two "
                             "calls can be subtracted (env RETENTION_MCP_PRIVACY_MODE; default exact over stdio, "
                             "protected for serve --http)")
    parser.add_argument("--call-timeout", type=float, metavar="SECONDS", dest="call_timeout_s", **unset,
                        help="longest a tool call may run (env RETENTION_MCP_CALL_TIMEOUT_S; default 120)")
    parser.add_argument("--call-memory-mb", type=float, metavar="MB", **unset,
                        help="most memory a tool call may use (env RETENTION_MCP_CALL_MEMORY_MB; default 2048)")
    parser.add_argument("--tool-workers", type=int, metavar="N", **unset,
                        help="worker processes that run tool calls (env RETENTION_MCP_TOOL_WORKERS; default: "
                             "the CPU cores, 2 to 8)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, type=str.upper, **unset,
                        help="stderr log level (env RETENTION_MCP_LOG_LEVEL; default INFO)")


#: serve's OAuth options: (flag, metavar, help with {env} for its environment variable).
OAUTH_FLAGS = (
    ("--oauth-issuer", "URL", "issuer URL of the identity provider whose JWT access tokens are accepted ({env})"),
    ("--oauth-audience", "AUD", "the aud a token must carry ({env}; default: --public-url)"),
    ("--oauth-roles", "MAP", "scope=role pairs, comma separated ({env}; default "
                             "retention:analyst=analyst,retention:manager=manager,retention:viewer=viewer)"),
    ("--oauth-jwks-url", "URL", "the provider's signing keys ({env}; default: from the issuer's discovery document)"),
    ("--oauth-name-claim", "CLAIM", "claim naming the person ({env}; default preferred_username, email, sub)"),
    ("--oauth-rows-claim", "CLAIM", "claim with a manager's row scope ({env}; default retention_rows)"),
    ("--oauth-hide-claim", "CLAIM", "claim with the columns hidden from a manager ({env}; default retention_hide)"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retention-mcp",
        description="MCP server for employee-retention strategy. With no command it serves MCP over stdio.",
    )
    parser.add_argument("--version", action="version", version=f"retention-mcp {__version__}")
    _add_common(parser)
    commands = parser.add_subparsers(dest="command")

    stdio = commands.add_parser("stdio", help="serve MCP over stdio (the default)")
    _add_common(stdio, subcommand=True)

    serve = commands.add_parser("serve", help="serve MCP over stdio, or over streamable HTTP with --http")
    _add_common(serve, subcommand=True)
    serve.add_argument("--http", action="store_true", help="stateless streamable HTTP instead of stdio")
    serve.add_argument("--host", help="HTTP host (default 127.0.0.1; beyond loopback a token is required)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8000)")
    serve.add_argument("--workers", type=int, help="HTTP worker processes behind one port (default 1)")
    serve.add_argument("--token-file", type=Path, help="file holding the bearer token (env RETENTION_MCP_TOKEN "
                                                       "or RETENTION_MCP_TOKEN_FILE)")
    serve.add_argument("--tokens-file", type=Path, metavar="FILE",
                       help="per-person bearer tokens, one 'name: token [role] [scope]' line each, e.g. "
                            "'Zhang Min: <token> manager department=研发部'; '#' starts a comment "
                            "(env RETENTION_MCP_TOKENS_FILE)")
    oauth = serve.add_argument_group("OAuth 2.1 sign-in (the server as a resource server)")
    for flag, metavar, meaning in OAUTH_FLAGS:
        variable = "RETENTION_MCP_" + flag.removeprefix("--").replace("-", "_").upper()
        oauth.add_argument(flag, metavar=metavar, help=meaning.format(env=f"env {variable}"))
    serve.add_argument("--public-url", metavar="URL",
                       help="the MCP endpoint's URL as clients reach it, e.g. https://hr.example.com/mcp "
                            "(env RETENTION_MCP_PUBLIC_URL; default http://HOST:PORT/mcp)")
    serve.add_argument("--header-timeout", type=float, dest="header_timeout_s", metavar="SECONDS",
                       help="close HTTP connections whose request headers are not complete by then "
                            "(env RETENTION_MCP_HEADER_TIMEOUT; default 10)")
    serve.add_argument("--body-timeout", type=float, dest="body_timeout_s", metavar="SECONDS",
                       help="answer 408 to HTTP requests whose body has not arrived by then "
                            "(env RETENTION_MCP_BODY_TIMEOUT; default 30)")

    demo = commands.add_parser("demo", help="run an end-to-end session against this server on bundled sample data")
    _add_common(demo, subcommand=True)
    demo.add_argument("--workdir", type=Path, help="where the demo writes its sample data and reports "
                                                   "(default: a new temporary folder)")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    data_dirs = [*(getattr(args, "data_dirs", None) or ()), *(getattr(args, "data_dir_list", None) or ())]
    if data_dirs:
        overrides["data_dirs"] = tuple(data_dirs)
    for key in ("output_dir", "prompts_dir", "catalog_dir", "language", "log_level", "host", "port", "workers",
                "tokens_file", "header_timeout_s", "body_timeout_s", "database_url", "min_group_size", "allow_names",
                "privacy_mode", "list_output_schemas",
                "call_timeout_s", "call_memory_mb", "tool_workers", "oauth_issuer", "oauth_audience", "oauth_roles",
                "oauth_jwks_url", "oauth_name_claim", "oauth_rows_claim", "oauth_hide_claim", "public_url"):
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    token_file = getattr(args, "token_file", None)
    if token_file is not None:
        overrides["token"] = Path(token_file).expanduser().read_text(encoding="utf-8").strip()
    return Settings.from_env(**overrides)


def configure_logging(level: str) -> None:
    # stdout belongs to the protocol: every log line goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    configure_logging(settings.log_level)

    if args.command == "demo":
        from retention_mcp.demo import run_demo

        return run_demo(settings, workdir=args.workdir)

    if args.command == "serve" and args.http:
        from retention_mcp.http import serve_http

        try:
            return serve_http(settings)
        except ValueError as exc:  # refused configuration, e.g. no token beyond loopback
            print(f"retention-mcp: {exc}", file=sys.stderr)
            return 2

    from retention_mcp.server import build_server
    from retention_mcp.settings import folder_problems

    # A desktop client shows no failed start, so stdio starts anyway; list_datasets and every data tool say
    # what to fix (and so does this line in the client's server log).
    for problem in folder_problems(settings):
        logger.warning("%s", problem)
    settings = settings.with_(privacy_mode=settings.privacy_mode or "exact")
    logger.info("retention-mcp %s serving MCP over stdio; data folder(s): %s; output folder: %s; privacy mode: %s",
                __version__, ", ".join(str(d) for d in settings.data_dirs), settings.output_dir,
                settings.privacy_mode)
    build_server(settings).run("stdio")
    # The client is gone (stdin closed). Leave now: a worker still being started in a background thread (the fork
    # server imports pandas and friends, seconds on a loaded machine) would otherwise hold the interpreter's exit,
    # and the client has no way to stop a server that lingers. Workers die with the fork server.
    logging.shutdown()
    os._exit(0)
