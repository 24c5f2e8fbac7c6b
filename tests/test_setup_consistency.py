"""README, CI and the Docker image install and test the same way, so they cannot drift apart."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Fresh machine: two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n(.+?)\n```", section)


def test_readme_states_exactly_two_commands():
    setup, tests = _readme_commands()
    assert setup == "bash scripts/setup.sh && flow build"
    assert tests == "python3 -m pytest"


def test_ci_runs_setup_then_exactly_the_readme_test_command():
    setup, tests = _readme_commands()
    lines = [l.strip() for l in (ROOT / ".ci" / "run").read_text().splitlines()
             if l.strip() and not l.strip().startswith("#")]
    assert "bash scripts/setup.sh" in lines
    assert lines[-1] == tests


def test_dockerfile_installs_through_the_readme_setup_script():
    setup, _ = _readme_commands()
    script = setup.split("&&")[0].strip()
    runs = [l for l in (ROOT / "Dockerfile").read_text().splitlines() if l.startswith("RUN ")]
    assert any(script in l for l in runs)
    assert "python:3.11" in (ROOT / "Dockerfile").read_text()


def test_setup_script_pins_torch_cpu():
    pins = (ROOT / "scripts" / "pins.txt").read_text()
    assert "torch==2.13.0" in pins
    assert "-c scripts/pins.txt" in (ROOT / "scripts" / "setup.sh").read_text()


def test_every_flow_package_is_listed_for_installation():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "flow").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject.toml [tool.setuptools] packages: {sorted(found - listed)}"
