"""The documentation: MkDocs builds docs/ without a warning, the README stays a short entry page whose two
commands are the ones CI (.ci/run) and the Docker image (Dockerfile, scripts/setup.sh) run, its links into
docs/ resolve, and no page a user reads cites issue-tracker numbers."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_MAX_LINES = 180
SETUP_COMMAND = "bash scripts/setup.sh && flow build"
TEST_COMMAND = "python3 -m pytest"


def _user_pages():
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def _fenced_blocks(text: str) -> list:
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)


# --- the MkDocs build ----------------------------------------------------------------------------------

def test_docs_build_strict_without_warnings(tmp_path):
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert not warnings, "mkdocs warned:\n" + "\n".join(warnings)
    for page in (ROOT / "docs").glob("*.md"):
        built = tmp_path / "site" / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"docs/{page.name} was not built (is it in mkdocs.yml's nav?)"


# --- the README --------------------------------------------------------------------------------------

def test_readme_is_short():
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/ (at most {README_MAX_LINES})"


def test_readme_commands_are_the_ones_ci_and_docker_run():
    blocks = [b.strip() for b in _fenced_blocks(README.read_text())]
    assert SETUP_COMMAND in blocks and TEST_COMMAND in blocks

    ci = [l.strip() for l in (ROOT / ".ci" / "run").read_text().splitlines()
          if l.strip() and not l.strip().startswith("#")]
    assert "bash scripts/setup.sh" in ci
    assert ci[-1] == TEST_COMMAND

    docker = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN bash scripts/setup\.sh\s*$", docker, re.M)
    cmd = re.search(r"^CMD (\[.*\])\s*$", docker, re.M)
    assert cmd and " ".join(json.loads(cmd.group(1))) == TEST_COMMAND  # the exec form: ["python3", "-m", "pytest"]


def _anchors(page: Path) -> set:
    from markdown.extensions.toc import slugify  # the slugs MkDocs (and, for these headings, GitHub) make

    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    return {slugify(h.strip(), "-") for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_readme_links_into_docs_resolve():
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    into_docs = [l for l in links if not re.match(r"[a-z]+://", l)]
    assert into_docs, "the README should link into docs/"
    for link in into_docs:
        path, _, anchor = link.partition("#")
        assert path.startswith("docs/") and path.endswith(".md"), f"README link {link!r}: use a relative docs/ path"
        target = ROOT / path
        assert target.is_file(), f"README link {link!r}: no such file"
        if anchor:
            assert anchor in _anchors(target), f"README link {link!r}: no heading makes that anchor"


# --- no issue numbers in what a user reads ---------------------------------------------------------------

_ISSUE_WORDS = re.compile(r"\b(?:issues?|tickets?|pull requests?|PRs?|stop|session)\s+#?\d+\b", re.I)
# '#24' as a reference: not part of a word or an HTML entity (&#123;), not a colour value (color: #123456)
_HASH_NUMBER = re.compile(r"(?<![\w&#/])#\d+\b(?![\w-])")
_COLOUR_BEFORE = re.compile(r"(?:[:=]\s*[\"']?|color\s*)$", re.I)


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code spans (code may say anything)."""
    text = re.sub(r"^(```|~~~)[^\n]*\n.*?^\1[^\n]*$", "", text, flags=re.M | re.S)
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", text)


def issue_references(text: str) -> list:
    """The issue-tracker references in ``text``'s prose: 'issue 23', 'issues #4', 'stop 31', '#24'."""
    prose = _prose(text)
    found = [m.group(0) for m in _ISSUE_WORDS.finditer(prose)]
    for m in _HASH_NUMBER.finditer(prose):
        if len(m.group(0)) - 1 in (3, 6, 8) and _COLOUR_BEFORE.search(prose[max(0, m.start() - 12):m.start()]):
            continue  # a hex colour of digits only
        found.append(m.group(0))
    return found


@pytest.mark.parametrize("text", [
    "far from the published designs (issue 23)",
    "Issue 23 stays open for what would move it.",
    "as issues #4 and #5 asked",
    "fixed in #24.",
    "(see #7)",
    "measured at stop 31",
    "from session 4's full run",
    "a PR 12 change",
])
def test_issue_reference_is_found(text):
    assert issue_references(text), text


@pytest.mark.parametrize("text", [
    "#include <ap_int.h> at the top",
    "#pragma HLS PIPELINE II=1",
    "# A heading\n\n## 2. Another",
    "the legend's color: #123456; and fill=\"#336699\"",
    "an HTML entity &#8212; here",
    "`issue 23` inside code and ``#24`` too",
    "```\nsee issue 23 and #24\n```\n",
    "a hex colour #1f77b4 and commit 4f2ae99",
    "B1's 9.1 MB, 2 issues with it, a non-issue, 429 passed",
])
def test_issue_reference_is_not_found_in(text):
    assert not issue_references(text), issue_references(text)


def test_user_pages_name_no_issue_numbers():
    for page in _user_pages():
        refs = issue_references(page.read_text())
        assert not refs, f"{page.relative_to(ROOT)} cites issue numbers {refs}: describe the behaviour instead"
