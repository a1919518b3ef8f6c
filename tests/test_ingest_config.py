"""The input keys of the configuration: [inputs] reject_limit, max_line_bytes, allow_empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.config import Config, load_config
from audit.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(text)
    return path


def test_defaults_match_the_readme() -> None:
    cfg = Config()
    assert (cfg.reject_limit, cfg.max_line_bytes, cfg.allow_empty) == (0.05, 1 << 20, False)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for line in ("reject_limit = 0.05", "max_line_bytes = 1048576", "allow_empty = false"):
        assert line in readme, line


def test_the_keys_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "[inputs]\nreject_limit = 0.2\nmax_line_bytes = 4096\nallow_empty = true\n")
    cfg = load_config(path)
    assert (cfg.reject_limit, cfg.max_line_bytes, cfg.allow_empty) == (0.2, 4096, True)
    assert load_config(write(tmp_path, "[inputs]\nreject_limit = 1\n")).reject_limit == 1.0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("reject_limit = 5", "inputs.reject_limit must be a share between 0 and 1"),
        ("reject_limit = -0.1", "inputs.reject_limit must be a share between 0 and 1"),
        ("reject_limit = true", "inputs.reject_limit must be a share between 0 and 1"),
        ('reject_limit = "5%"', "'inputs.reject_limit' must be int or float"),
        ("max_line_bytes = 10", "inputs.max_line_bytes must be from 1024 to 1099511627776"),
        (
            "max_line_bytes = 100000000000000000000",
            "inputs.max_line_bytes must be from 1024 to 1099511627776",
        ),
        ("max_line_bytes = 1.5", "'inputs.max_line_bytes' must be int"),
        ('allow_empty = "yes"', "'inputs.allow_empty' must be bool"),
        ("reject_limits = 0.1", "unknown config key(s) in [inputs]: reject_limits"),
    ],
)
def test_bad_values_are_configuration_errors(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"[inputs]\n{text}\n"))
    assert fragment in str(info.value)
    assert info.value.exit_code == 78
