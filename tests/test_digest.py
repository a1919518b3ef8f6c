"""The morning digest: what a support lead sees, checked as they would see it (in a real browser)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import main
from audit.digest_charts import trend_svg
from audit.digest_render import _md, _md_code

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
DOMAINS = ("mg.gitlab.com", "customers.gitlab.com", "mg.about.gitlab.com")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def sample_run(out: Path, as_of: str, nights: str = "*") -> Path:
    args = ["run", "--accounts", str(SAMPLE / "accounts.csv"), "--out", str(out), "--as-of", as_of, "-q"]
    for domain in DOMAINS:
        args += ["--events", f"{domain}={SAMPLE}/mailgun/{domain}/events-{nights}.jsonl.gz"]
    code, _, stderr = cli(*args)
    assert code == 0, stderr
    return out / as_of


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample audited on 2026-11-19 (dumps up to that night) and then on 2026-11-20."""
    out = tmp_path_factory.mktemp("digest") / "out"
    sample_run(out, "2026-11-19", "2026-11-1[0-9]")
    return sample_run(out, "2026-11-20")


def summary_counts(page: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r'data-report="(\w+)"[^>]*>(\d+)<', page)}


def test_every_run_writes_an_owner_only_digest_beside_the_reports(two_nights: Path) -> None:
    for name in ("digest.html", "digest.md"):
        path = two_nights / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    manifest = json.loads((two_nights / "manifest.json").read_text())
    assert "digest" in manifest["stages"]


def test_the_counts_match_the_manifest_and_compare_with_the_previous_run(two_nights: Path) -> None:
    manifest = json.loads((two_nights / "manifest.json").read_text())
    page = (two_nights / "digest.html").read_text()
    assert summary_counts(page) == manifest["reports"]
    assert "compared with the run of 2026-11-19" in page
    markdown = (two_nights / "digest.md").read_text()
    table = dict(re.findall(r"^\| ([^|]+?) \| (\d+) \| \d+ \| \d+ \|$", markdown, re.M))
    assert table["Unconfirmed accounts"] == str(manifest["reports"]["unconfirmed_accounts"])
    assert table["**All findings**"] == str(manifest["reports"]["findings"])
    # the 2026-11-20 dump brings new findings: some rows are new, others ongoing since 2026-11-19
    assert 'class="badge new"' in page and "since 2026-11-19" in page


def test_each_check_has_a_chart_of_its_count_per_run(two_nights: Path) -> None:
    page = (two_nights / "digest.html").read_text()
    charts = re.findall(r'<svg role="img" aria-label="([^"]+)"', page)
    assert len(charts) == 5
    assert all("2026-11-19 to 2026-11-20" in label for label in charts)
    assert "Counts over the last 2 run(s)" in page


def test_the_page_loads_nothing_and_runs_no_script(two_nights: Path) -> None:
    page = (two_nights / "digest.html").read_text()
    assert "default-src 'none'" in page
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "src=", "url(http", 'href="http'):
        assert forbidden not in page, forbidden
    assert set(re.findall(r'href="([^"#][^"]*)"', page)) == set()


def test_same_run_gives_byte_identical_charts() -> None:
    dates, counts = ["2026-11-18", "2026-11-19", "2026-11-20"], [3, None, 5]
    first = trend_svg("undeliverable_emails", dates, counts, "Undeliverable emails")
    assert first == trend_svg("undeliverable_emails", dates, counts, "Undeliverable emails")
    assert first.startswith("<svg ") and "<metadata" not in first and "<?xml" not in first
    assert "<text" in first  # svg.fonttype none: labels stay text
    ids = set(re.findall(r'\bid="([^"]+)"', first))
    assert ids and all(i.startswith("undeliverable_emails-") for i in ids)


def test_every_value_is_escaped_in_html_and_markdown(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    nasty = '"<img src=x onerror=alert(1)>|[x](http://evil.example)@acme.com"'
    accounts.write_text(
        "id,email,first_name,created_at,confirmed_at,surprise_column\n"
        f"1,{nasty},Ana,2026-11-01 00:00:00 UTC,,x\n"
        "2,bo|chen@acme.com,Bo,2026-11-01 00:00:00 UTC,,x\n"
        "3,cy@acme.com,Cy,yesterday,,x\n"
        # enough good rows that the one rejected row stays under the default 5% reject limit
        + "".join(
            f"{n},u{n}@acme.com,U,2026-11-01 00:00:00 UTC,2026-11-01 00:00:00 UTC,x\n" for n in range(4, 24)
        )
    )
    out = tmp_path / "out"
    code, _, stderr = cli(
        "run", "--accounts", str(accounts), "--out", str(out), "--as-of", "2026-11-20", "-q"
    )
    assert code == 0, stderr
    page = (out / "2026-11-20" / "digest.html").read_text()
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    markdown = (out / "2026-11-20" / "digest.md").read_text()
    outside_code = re.sub(r"(`+).+?\1", "", markdown)
    assert "](" not in outside_code.replace("\\]", "")  # no Markdown link outside code spans
    assert "`<img src=x onerror=alert(1)>\\|[x](http://evil.example)@acme.com`" in markdown
    assert "`bo\\|chen@acme.com`" in markdown
    # data quality: the skipped checks, the rejected row and the unknown column are all named
    for text in ("No Mailgun events were given", "gitlab_password_resets was skipped",
                 "accounts.csv: 1 row(s) not used (bad_timestamp 1)",
                 "accounts.csv: 1 row(s) used with a data-quality problem (invalid_email 1)", "surprise_column"):  # fmt: skip
        assert text in page, text
        assert _md(text) in markdown, text


def test_markdown_escapes_keep_emails_out_of_links() -> None:
    assert _md("a|b *c* [d](e) <f>") == "a\\|b \\*c\\* \\[d\\](e) \\<f\\>"
    assert _md("mail ana@acme.com now") == "mail `ana@acme.com` now"
    assert _md_code("a`b@c.com") == "``a`b@c.com``"


def test_a_digest_that_cannot_be_written_fails_the_run_and_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("audit.pipeline.write_digest", broken)
    out = tmp_path / "out"
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("id,email,created_at,confirmed_at\n1,ana@acme.com,2026-11-01 00:00:00 UTC,\n")
    code, _, _ = cli("run", "--accounts", str(accounts), "--out", str(out), "--as-of", "2026-11-20", "-q")
    assert code == 70
    assert not (out / "2026-11-20").exists() and not (out / "state.duckdb").exists()


def _launch_chromium():  # type: ignore[no-untyped-def]
    """Debian's Chromium through Playwright; missing pieces fail in CI (CI=true) and skip elsewhere."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} (apt-get install chromium; .ci/run does it)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test needs {missing}")
        pytest.skip(f"the browser test needs {missing}")
    return sync_playwright()


def test_the_digest_renders_in_a_real_browser(two_nights: Path, tmp_path: Path) -> None:
    manifest = json.loads((two_nights / "manifest.json").read_text())
    page_url = (two_nights / "digest.html").resolve().as_uri()
    errors: list[str] = []
    requests: list[str] = []
    with _launch_chromium() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_url, wait_until="load")
            shown = page.eval_on_selector_all(
                "[data-report]", "cells => cells.map(c => [c.dataset.report, c.textContent.trim()])"
            )
            charts = page.eval_on_selector_all(
                "svg.trend", "svgs => svgs.map(s => s.getBoundingClientRect().width)"
            )
            page.screenshot(path=str(tmp_path / "digest.png"), full_page=True)
            page.emulate_media(media="print")
            page.screenshot(path=str(tmp_path / "digest-print.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == [page_url]  # the page itself and nothing else
    assert {name: int(text) for name, text in shown} == manifest["reports"]
    assert len(charts) == 5 and all(width > 200 for width in charts)
    assert (tmp_path / "digest.png").stat().st_size > 10_000


def test_logs_of_a_run_name_no_email_address(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "audit",
            "run",
            "--accounts",
            str(SAMPLE / "accounts.csv"),
            "--out",
            str(tmp_path),
            "--as-of",
            "2026-11-20",
            "--verbose",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert "stage digest done" in result.stderr
    assert not EMAIL.search(result.stdout + result.stderr)
