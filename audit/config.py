"""Run configuration: TOML file, then command-line flags on top, validated once here.

Paths in the file are relative to the file's own folder, so a config can be moved with its data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.errors import ConfigError
from audit.matching_config import MatchingConfig

# The job's own column names; the export's header is mapped onto these.
REQUIRED_ACCOUNT_COLUMNS = ("id", "email", "created_at", "confirmed_at")
OPTIONAL_ACCOUNT_COLUMNS = (
    "first_name",
    "last_name",
    "company",
    "confirmation_sent_at",
    "unconfirmed_email",
    "last_sign_in_at",
    "sign_in_count",
    "provider",
    "uid",
    "gitlab_email",
    "login_activated",
    "billing_account_id",
    "updated_at",
)
ACCOUNT_COLUMNS = REQUIRED_ACCOUNT_COLUMNS + OPTIONAL_ACCOUNT_COLUMNS

DEFAULT_RESET_SUBJECTS = ("Reset password instructions",)
# DuckDB's buffer pool limit. The Python passes (matching in polars) run in the same process, so this
# is well below the 2 GiB the whole run may use at 1M accounts; what does not fit spills to disk.
DEFAULT_MEMORY_LIMIT = "1GB"
MEMORY_LIMIT = re.compile(r"\d{1,6}(\.\d{1,3})?\s?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
DEFAULT_CONFIRMATION_SUBJECTS = ("Confirmation instructions",)
MAX_LINE_BYTES = 1 << 40  # inputs.max_line_bytes at most (from 1024)


UNITS = {"kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
         "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}  # fmt: skip


def memory_bytes(text: str) -> int:
    """Bytes of a size as DuckDB reads it ('1GB' = 10^9, '1GiB' = 2^30); the text is validated."""
    match = MEMORY_LIMIT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    return int(float(text.strip()[: match.start(2)]) * UNITS[match.group(2).lower()])


# A DNS name of two or more labels (IDNs in their xn-- form), as Mailgun sending domains are.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN_NAME = re.compile(rf"(?=.{{1,253}}$)(?:{_LABEL}\.)+{_LABEL}")


@dataclass(frozen=True)
class EventsInput:
    """One `--events DOMAIN=PATH_OR_GLOB`: the Mailgun sending domain the dump was exported for."""

    domain: str
    pattern: str

    @classmethod
    def parse(cls, text: str, base: Path | None = None) -> EventsInput:
        domain, sep, pattern = text.partition("=")
        domain = domain.strip().lower()
        pattern = pattern.strip()
        if not sep or not domain or not pattern:
            raise ConfigError(f"events input {text!r} must look like DOMAIN=PATH_OR_GLOB")
        if not DOMAIN_NAME.fullmatch(domain):  # a typo here would file every event under a stray domain
            raise ConfigError(
                f"events input {text!r}: {domain!r} is not a sending domain name such as mg.example.com"
            )
        if base is not None and not Path(pattern).is_absolute():
            pattern = str(base / pattern)
        return cls(domain, pattern)


@dataclass(frozen=True)
class Config:
    accounts: Path | None = None
    events: tuple[EventsInput, ...] = ()
    out: Path = Path("reports")
    as_of: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    gitlab_domains: tuple[str, ...] = ("mg.gitlab.com",)
    portal_domains: tuple[str, ...] = ("customers.gitlab.com",)
    lookback_days: int = 7
    reset_subjects: tuple[str, ...] = DEFAULT_RESET_SUBJECTS
    confirmation_subjects: tuple[str, ...] = DEFAULT_CONFIRMATION_SUBJECTS
    columns: Mapping[str, str] = field(default_factory=dict)  # export header -> job column
    csv_delimiter: str = ","
    encoding: str = "utf-8"
    reject_limit: float = 0.05  # a file whose rejected share exceeds this fails the run
    max_line_bytes: int = 1 << 20  # longer input lines are rejected unread
    allow_empty: bool = False  # an empty or header-only input loads nothing instead of failing
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    state: Path | None = None  # default: OUT/state.duckdb, shared by `run` and `lookup`
    retention_days: int = 90  # Mailgun events older than this are pruned from the state
    memory_limit: str = DEFAULT_MEMORY_LIMIT  # DuckDB's own memory limit; beyond it DuckDB spills to disk
    temp_directory: Path | None = None  # where DuckDB spills (default: inside the run's staging folder)
    debug: bool = False

    @property
    def state_path(self) -> Path:
        return self.state if self.state is not None else self.out / "state.duckdb"

    def header_for(self, job_column: str) -> str:
        """The export header that feeds a job column (identity unless mapped)."""
        for header, target in self.columns.items():
            if target == job_column:
                return header
        return job_column


def _expect(value: Any, kind: type | tuple[type, ...], key: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"config key {key!r} must be {names}, got {type(value).__name__}")
    return value


def _str_list(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    _expect(value, list, key)
    return tuple(_expect(v, str, key) for v in value)


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"unknown config key(s) in {where}: {', '.join(unknown)}")


def load_config(path: Path | None, **overrides: Any) -> Config:
    """Read the TOML file (if any), apply non-None overrides, validate, and return a Config."""
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_read_toml(path))
    for key, value in overrides.items():
        if value is not None and value != ():
            values[key] = value
    cfg = Config(**values)
    _validate(cfg)
    return cfg


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None

    base = path.resolve().parent
    _check_keys(
        raw,
        {"inputs", "out", "as_of", "domains", "checks", "matching", "columns", "csv", "state", "paths"}
        | {"duckdb"},
        str(path),
    )
    values: dict[str, Any] = {}
    paths = _expect(raw.get("paths", {}), dict, "paths")
    _check_keys(paths, {"roots"}, "[paths]")
    roots = tuple((base / r).resolve() for r in _str_list(paths.get("roots", ["."]), "paths.roots"))

    inputs = _expect(raw.get("inputs", {}), dict, "inputs")
    _check_keys(inputs, {"accounts", "events", "reject_limit", "max_line_bytes", "allow_empty"}, "[inputs]")
    if "reject_limit" in inputs:
        limit = _expect(inputs["reject_limit"], (int, float), "inputs.reject_limit")
        values["reject_limit"] = limit if isinstance(limit, bool) else float(limit)  # bool: refused below
    if "max_line_bytes" in inputs:
        values["max_line_bytes"] = _expect(inputs["max_line_bytes"], int, "inputs.max_line_bytes")
    if "allow_empty" in inputs:
        values["allow_empty"] = _expect(inputs["allow_empty"], bool, "inputs.allow_empty")
    if "accounts" in inputs:
        values["accounts"] = _confine(
            base, _expect(inputs["accounts"], str, "inputs.accounts"), roots, "inputs.accounts"
        )
    if "events" in inputs:
        events = _expect(inputs["events"], dict, "inputs.events")
        parsed = []
        for domain, patterns in sorted(events.items()):
            for pattern in _str_list(patterns, f"inputs.events.{domain}"):
                _confine(base, pattern, roots, f"inputs.events.{domain}")
                parsed.append(EventsInput.parse(f"{domain}={pattern}", base))
        values["events"] = tuple(parsed)
    if "out" in raw:
        values["out"] = _confine(base, _expect(raw["out"], str, "out"), roots, "out")
    state = _expect(raw.get("state", {}), dict, "state")
    _check_keys(state, {"path", "retention_days"}, "[state]")
    if "path" in state:
        values["state"] = _confine(base, _expect(state["path"], str, "state.path"), roots, "state.path")
    if "retention_days" in state:
        values["retention_days"] = _expect(state["retention_days"], int, "state.retention_days")
    duck = _expect(raw.get("duckdb", {}), dict, "duckdb")
    _check_keys(duck, {"memory_limit", "temp_directory"}, "[duckdb]")
    if "memory_limit" in duck:
        values["memory_limit"] = _expect(duck["memory_limit"], str, "duckdb.memory_limit")
    if "temp_directory" in duck:
        text = _expect(duck["temp_directory"], str, "duckdb.temp_directory")
        values["temp_directory"] = _confine(base, text, roots, "duckdb.temp_directory")
    if "as_of" in raw:
        as_of = raw["as_of"]
        values["as_of"] = as_of if isinstance(as_of, dt.date) else parse_date(str(as_of), "as_of")

    domains = _expect(raw.get("domains", {}), dict, "domains")
    _check_keys(domains, {"gitlab", "portal"}, "[domains]")
    if "gitlab" in domains:
        values["gitlab_domains"] = tuple(d.lower() for d in _str_list(domains["gitlab"], "domains.gitlab"))
    if "portal" in domains:
        values["portal_domains"] = tuple(d.lower() for d in _str_list(domains["portal"], "domains.portal"))

    checks = _expect(raw.get("checks", {}), dict, "checks")
    _check_keys(checks, {"lookback_days", "reset_subjects", "confirmation_subjects"}, "[checks]")
    if "lookback_days" in checks:
        values["lookback_days"] = _expect(checks["lookback_days"], int, "checks.lookback_days")
    if "reset_subjects" in checks:
        values["reset_subjects"] = _str_list(checks["reset_subjects"], "checks.reset_subjects")
    if "confirmation_subjects" in checks:
        values["confirmation_subjects"] = _str_list(
            checks["confirmation_subjects"], "checks.confirmation_subjects"
        )

    csv = _expect(raw.get("csv", {}), dict, "csv")
    _check_keys(csv, {"delimiter", "encoding"}, "[csv]")
    if "delimiter" in csv:
        values["csv_delimiter"] = _expect(csv["delimiter"], str, "csv.delimiter")
    if "encoding" in csv:
        values["encoding"] = _expect(csv["encoding"], str, "csv.encoding")

    columns = _expect(raw.get("columns", {}), dict, "columns")
    values["columns"] = {
        _expect(k, str, "columns"): _expect(v, str, f"columns.{k}") for k, v in columns.items()
    }

    matching = _expect(raw.get("matching", {}), dict, "matching")
    known = {f.name: f for f in dataclasses.fields(MatchingConfig)}
    _check_keys(matching, set(known), "[matching]")
    values["matching"] = MatchingConfig(**matching)
    return values


def _confine(base: Path, text: str, roots: tuple[Path, ...], key: str) -> Path:
    """A config path, resolved, that must stay inside one of the allowed roots ([paths] roots)."""
    literal = text.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]  # the part before any glob
    resolved = (base / literal).resolve()
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise ConfigError(
            f"{key} = {text!r} resolves outside the allowed folders ({allowed}); "
            "add its folder to [paths] roots if this is intended"
        )
    return base / text


# Bounds that keep every date window of a run (as-of minus retention, plus a day) inside the calendar.
MAX_DAYS = 36_500
EARLIEST_AS_OF, LATEST_AS_OF = dt.date(1970, 1, 1), dt.date(9999, 1, 1)


def parse_date(text: str, key: str = "--as-of") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{key} must be a date like 2026-11-20, got {text!r}") from None


def _validate(cfg: Config) -> None:
    if not 1 <= cfg.lookback_days <= MAX_DAYS:
        raise ConfigError(f"checks.lookback_days must be from 1 to {MAX_DAYS}, got {cfg.lookback_days}")
    if not cfg.lookback_days <= cfg.retention_days <= MAX_DAYS:
        raise ConfigError(f"state.retention_days must be from checks.lookback_days to {MAX_DAYS}")
    if not EARLIEST_AS_OF <= cfg.as_of <= LATEST_AS_OF:  # the date windows around it must exist
        raise ConfigError(
            f"the audit date (--as-of) must be from {EARLIEST_AS_OF} to {LATEST_AS_OF}, got {cfg.as_of}"
        )
    if isinstance(cfg.reject_limit, bool) or not 0.0 <= cfg.reject_limit <= 1.0:
        raise ConfigError("inputs.reject_limit must be a share between 0 and 1, such as 0.05 for 5%")
    if not MEMORY_LIMIT.fullmatch(cfg.memory_limit.strip()):
        raise ConfigError(
            f"duckdb.memory_limit must be a size such as '1GB' or '768MiB', got {cfg.memory_limit!r}"
        )
    if not 1024 <= cfg.max_line_bytes <= MAX_LINE_BYTES:  # a huge one overflows the SQL parameters
        raise ConfigError(f"inputs.max_line_bytes must be from 1024 to {MAX_LINE_BYTES} (1 TiB)")
    if len(cfg.csv_delimiter) != 1:
        raise ConfigError("csv.delimiter must be a single character")
    if cfg.csv_delimiter in "\r\n":
        raise ConfigError("csv.delimiter cannot be a line break: lines end at LF (CRLF)")
    try:
        "".encode(cfg.encoding)
    except LookupError:
        raise ConfigError(f"csv.encoding {cfg.encoding!r} is not a known encoding") from None
    for header, target in cfg.columns.items():
        if target not in ACCOUNT_COLUMNS:
            raise ConfigError(
                f"columns.{header} maps to {target!r}, which is not one of: {', '.join(ACCOUNT_COLUMNS)}"
            )
    targets = list(cfg.columns.values())
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    if dupes:
        raise ConfigError(f"columns maps more than one header onto: {', '.join(dupes)}")
    overlap = set(cfg.gitlab_domains) & set(cfg.portal_domains)
    if overlap:
        raise ConfigError(f"domain(s) listed as both gitlab and portal: {', '.join(sorted(overlap))}")
    if not cfg.reset_subjects or not cfg.confirmation_subjects:
        raise ConfigError("checks.reset_subjects and checks.confirmation_subjects must not be empty")
    try:
        cfg.matching.validate()
    except ValueError as exc:
        raise ConfigError(f"[matching]: {exc}") from None
