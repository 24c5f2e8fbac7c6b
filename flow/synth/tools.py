"""`flow synth`: run the vendor tools on a generated project, where they are installed.

Steps, in order: csynth, cosim, export (Vitis HLS, one `vitis_hls -f run_hls.tcl` run: the script reads
the steps from VITFLOW_STEPS and prints `vitflow: step <name>` as each begins, which becomes the progress
line), then bitstream (Vivado in batch mode on vivado/build_bitstream.tcl, from the IP the export left).
Vitis 2024.2 and later name the HLS command `vitis-run --mode hls --tcl`; either is taken. Each tool's
output goes to logs/<tool>.log in the project. Without a tool the command stops before writing anything,
with one line naming the tool and the commands a lab machine runs.
"""

import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from flow.errors import FlowError

STEPS = ("csynth", "cosim", "export", "bitstream")
HLS_STEPS = ("csynth", "cosim", "export")
IP_DIR = "vitflow_prj/solution1/impl/ip"   # where export_design leaves the IP (run_hls.tcl's project)
MARKER = re.compile(r"^vitflow: step (\w+)")


@dataclass
class Command:
    tool: str                 # the program looked up on PATH
    argv: list                # the command line, run in the project folder
    env: dict                 # variables set on top of the caller's environment
    log: str                  # the log file, relative to the project
    steps: list = field(default_factory=list)


def parse_steps(text: str | None) -> list:
    """The steps of a --steps value ("csynth,cosim"), in pipeline order."""
    if not text:
        return list(STEPS)
    asked = [s.strip() for s in text.split(",") if s.strip()]
    for s in asked:
        if s not in STEPS:
            raise FlowError(f"unknown synth step '{s}' (steps: {', '.join(STEPS)})")
    return [s for s in STEPS if s in asked]


def hls_command(steps: list) -> list:
    """argv of the HLS run: vitis_hls when on PATH, else Vitis' unified vitis-run."""
    if shutil.which("vitis_hls") or not shutil.which("vitis-run"):
        return ["vitis_hls", "-f", "run_hls.tcl"]
    return ["vitis-run", "--mode", "hls", "--tcl", "run_hls.tcl"]


def commands(steps: list) -> list:
    """The tool runs ``steps`` take, in order."""
    out = []
    hls = [s for s in steps if s in HLS_STEPS]
    if hls:
        argv = hls_command(hls)
        out.append(Command(argv[0], argv, {"VITFLOW_STEPS": " ".join(hls)}, "logs/vitis_hls.log", hls))
    if "bitstream" in steps:
        out.append(Command("vivado", ["vivado", "-mode", "batch", "-nolog", "-nojournal", "-source",
                                      "vivado/build_bitstream.tcl"], {}, "logs/vivado.log", ["bitstream"]))
    return out


def lab_commands(project: Path, steps: list) -> str:
    """The shell commands that run ``steps`` on a lab machine."""
    parts = [f"cd {shlex.quote(str(project))}"]  # a lab path may hold spaces or quotes
    for c in commands(steps):
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in c.env.items())
        parts.append(f"{env} {' '.join(c.argv)}".strip())
    return " && ".join(parts)


def check_project(project: Path) -> None:
    if not (project / "run_hls.tcl").is_file() or not (project / "firmware").is_dir():
        raise FlowError(f"'{project}' is not a vitflow HLS project (no run_hls.tcl and firmware/: the hls/ "
                        f"folder `flow build` writes)")


def run_synth(project, steps_text: str | None = None, say=print) -> list:
    """Run the steps on ``project``; returns the logs written. FlowError, before anything is written, when
    a tool is missing or the bitstream has no IP to build from; FlowError naming the step and its log
    when a tool fails."""
    project = Path(project)
    check_project(project)
    steps = parse_steps(steps_text)
    cmds = commands(steps)
    for c in cmds:
        if not shutil.which(c.tool):
            raise FlowError(f"{c.tool} is not on PATH ({'Vivado' if c.tool == 'vivado' else 'Vitis HLS'} "
                            f"needed for {', '.join(c.steps)}); on a lab machine run: {lab_commands(project, steps)}")
    if "bitstream" in steps and "export" not in steps and not (project / IP_DIR).is_dir():
        raise FlowError(f"no exported IP in {project / IP_DIR}: run the export step first (--steps export,bitstream)")
    (project / "logs").mkdir(exist_ok=True)
    logs = []
    for c in cmds:
        logs.append(_run(project, c, say))
    return logs


def _run(project: Path, c: Command, say) -> Path:
    log = project / c.log
    env = {**os.environ, **c.env}
    t0 = time.monotonic()
    step, started = c.steps[0], t0
    say(f"flow: synth: {c.tool} ({', '.join(c.steps)}), log {log}")
    say(f"flow: synth: {step} ...")
    with open(log, "w") as f:
        proc = subprocess.Popen(c.argv, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace")
        try:
            for line in proc.stdout:
                f.write(line)
                m = MARKER.match(line)
                if m and m.group(1) != step:  # the script announces each step as it begins
                    now = time.monotonic()
                    say(f"flow: synth: {step} done ({now - started:.0f} s)")
                    step, started = m.group(1), now
                    say(f"flow: synth: {step} ...")
        except BaseException:  # Ctrl-C or SIGTERM: the tool goes with us
            proc.kill()
            proc.wait()
            raise
        code = proc.wait()
    if code != 0:
        errors = [l.strip() for l in log.read_text(errors="replace").splitlines() if l.startswith("ERROR")]
        last = f": {errors[-1]}" if errors else ""
        raise FlowError(f"{c.tool} failed in step {step} (exit {code}){last}; log {log}")
    say(f"flow: synth: {step} done ({time.monotonic() - started:.0f} s)")
    return log
