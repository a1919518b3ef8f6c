"""Command line: parses options, calls the library, and turns domain errors into exit codes.

Exit codes (see README): 0 ok, 65 bad data, 66 missing input, 73 cannot write, 75 locked,
78 bad configuration, 70 unexpected internal error.
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from audit import __version__
from audit.config import EventsInput, load_config, parse_date
from audit.errors import EXIT_CONFIG, AuditError
from audit.logs import finish_status, setup_logging

if TYPE_CHECKING:
    from audit.pipeline import RunResult

EXIT_SOFTWARE = 70
F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("audit")


def handle_errors(func: F) -> F:
    """The one place domain errors become a clean message and a documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        try:
            return func(*args, **kwargs)
        except AuditError as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"account-audit: error: {exc.render()}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debug:
                traceback.print_exc()
            # The exception text may quote input values (emails), so only its type is shown.
            hint = "the traceback is above" if debug else "re-run with --debug for details"
            click.echo(f"account-audit: internal error ({type(exc).__name__}); {hint}", err=True)
            sys.exit(EXIT_SOFTWARE)

    return wrapper  # type: ignore[return-value]


def common_options(func: F) -> F:
    """Options shared by every command; each can also come from an ACCOUNT_AUDIT_* variable."""
    func = click.option(
        "--debug",
        is_flag=True,
        envvar="ACCOUNT_AUDIT_DEBUG",
        help="Log each pass's SQL, row count and time; keep scratch tables in OUT/debug/; show tracebacks.",
    )(func)
    func = click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        envvar="ACCOUNT_AUDIT_OUT",
        help="Folder for reports (default: the config's `out`, else ./reports). Env: ACCOUNT_AUDIT_OUT.",
    )(func)
    func = click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="ACCOUNT_AUDIT_CONFIG",
        help="TOML config file; command-line flags override it. Env: ACCOUNT_AUDIT_CONFIG.",
    )(func)
    return func


class AuditGroup(click.Group):
    """A click group whose usage errors (unknown flag, bad value) exit with the documented 78, not 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False  # click then raises its errors here instead of exiting 2
        try:
            code = super().main(*args, **kwargs)
        except click.UsageError as exc:  # one line, like every other error
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"account-audit: error: {exc.format_message()}{hint}", err=True)
            sys.exit(EXIT_CONFIG)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=AuditGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="account-audit")
def main() -> None:
    """Nightly audit of portal accounts and Mailgun events: finds customers who cannot sign in."""


@main.command()
@common_options
@click.option(
    "--accounts",
    type=click.Path(path_type=Path),  # a folder is an input error (66), as in the config or --events
    help="Portal accounts export (CSV or .csv.gz).",
)
@click.option(
    "--events",
    "events",
    multiple=True,
    metavar="DOMAIN=PATH_OR_GLOB",
    help="Mailgun event dump(s) exported for DOMAIN (JSON lines, plain or .gz). Repeatable.",
)
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Audit date (default: today in UTC).")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr.")
@click.option("--verbose", "-v", is_flag=True, help="Log every pass with its row count and time.")
@handle_errors
def run(
    config_path: Path | None,
    out: Path | None,
    debug: bool,
    accounts: Path | None,
    events: tuple[str, ...],
    as_of: str | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Load the inputs, run every check and write the reports to OUT/<as-of>/."""
    from audit.pipeline import run_audit  # imported here so `lookup` starts without pyarrow

    setup_logging(quiet=quiet, verbose=verbose, debug=debug)
    cfg = load_config(
        config_path,
        accounts=accounts,
        events=tuple(EventsInput.parse(e) for e in events),
        out=out,
        as_of=parse_date(as_of) if as_of else None,
        debug=debug or None,
    )
    try:
        result = run_audit(cfg)
    finally:
        finish_status()
    _print_summary(result)


def _print_summary(result: RunResult) -> None:
    click.echo(f"Reports for {result.as_of.isoformat()} written to {result.folder}")
    if not result.events_given:
        click.echo("No Mailgun events were given: checks that need events were skipped.")
    for name, rows in sorted(result.reports.items()):
        if name not in ("findings", "rejects", "data_quality"):
            click.echo(f"  {name:<24} {rows:>7} rows")
    for name, reason in sorted(result.skipped.items()):
        click.echo(f"  {name:<24} skipped ({reason})")
    click.echo(f"  {'findings (all checks)':<24} {result.findings:>7} rows")
    loaded = sum(s.rows_loaded for s in result.inputs)
    click.echo(
        f"Inputs: {len(result.inputs)} file(s), {loaded} rows loaded, {result.rejects} rejected"
        + (f" (see {result.folder / 'rejects.csv'})" if result.rejects else "")
    )
    kept = result.reports.get("data_quality", 0)
    if kept:
        click.echo(
            f"Data quality: {kept} row(s) used with a problem (see {result.folder / 'data_quality.csv'})"
        )


class DocumentedArgument(click.Argument):
    """A positional argument that carries help text like an option (click's own arguments have none)."""

    def __init__(self, *args: Any, help: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = help


@main.command()
@common_options
@click.argument("email", cls=DocumentedArgument, help="The customer's email address, as in the ticket.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema in the README) instead of text.")
@handle_errors
def lookup(config_path: Path | None, out: Path | None, debug: bool, email: str, as_json: bool) -> None:
    """Show everything the last run knows about the customer with address EMAIL.

    Reads OUT/state.duckdb (or the config's [state] path) read-only and the latest reports; no re-run.
    Exit status 0 when something matches, 1 when nothing does.
    """
    import json

    from audit.lookup import lookup as find
    from audit.lookup_text import render

    cfg = load_config(config_path, out=out, debug=debug or None)
    result = find(cfg, email)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(render(result))
    if not result["found"]:
        sys.exit(1)


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write the sample into.",
)
@click.option(
    "--as-of",
    "as_of",
    default="2026-11-20",
    show_default=True,
    metavar="YYYY-MM-DD",
    help="The sample's audit date; events end on this day.",
)
@click.option(
    "--accounts",
    "n_accounts",
    type=click.IntRange(min=95),
    default=400,
    show_default=True,
    help="Number of accounts.",
)
@click.option(
    "--events",
    "n_events",
    type=click.IntRange(min=0),
    default=None,
    help="Number of Mailgun events; selects the fast bulk generator (plain .jsonl dumps, one per domain "
    "and day). Without it, the small hand-tuned sample of data/sample/ is written.",
)
@click.option("--gzip", "compress", is_flag=True, help="Bulk generator: gzip the dumps (slower).")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same bytes).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@handle_errors
def sample(
    out: Path, as_of: str, n_accounts: int, n_events: int | None, compress: bool, seed: int, debug: bool
) -> None:
    """Write a deterministic, realistic sample (accounts, Mailgun dumps, config, expected findings)."""
    from audit.sample import generate_sample

    date = parse_date(as_of)
    expected = generate_sample(
        out, as_of=date, seed=seed, n_accounts=n_accounts, n_events=n_events, compress=compress
    )
    click.echo(f"Sample for {date.isoformat()} written to {out} ({len(expected)} checks planted)")


if __name__ == "__main__":  # pragma: no cover
    main()
