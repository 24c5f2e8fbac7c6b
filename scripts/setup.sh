#!/usr/bin/env bash
# One install path for a fresh machine, CI (.ci/run) and the Docker image (Dockerfile).
#   - system packages: g++ (C-simulation), tcl (the tests run the generated Vivado script's clock
#     check in tclsh), Debian's dataset-fashion-mnist (real images for calibration, tests and
#     benchmarks, under /usr/share/datasets/fashion-mnist) and chromium (the tests open the build's
#     report.html in it, headless, and check it loads without console errors and shows its plots);
#   - the vitflow package (editable) with its pinned Python dependencies;
#   - timm, the reference implementation used by the equivalence tests, without its dependencies
#     (its torchvision dependency would otherwise replace the CPU torch with a multi-GB CUDA build).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

need_apt=()
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v tclsh >/dev/null 2>&1 || need_apt+=(tcl)  # the tests run the generated Vivado script's clock check
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the tests load report.html in a real headless browser
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${need_apt[*]}"
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "setup: need root (or sudo) to apt-get install ${need_apt[*]}" >&2; exit 1; }
        sudo_cmd="sudo"
    fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

py="${PYTHON:-python3}"
pip_flags=(--disable-pip-version-check -q -c scripts/pins.txt)
echo "setup: installing vitflow and its pinned dependencies"
"$py" -m pip install "${pip_flags[@]}" -e ".[test]"
echo "setup: installing the timm reference implementation (no dependencies)"
"$py" -m pip install "${pip_flags[@]}" --no-deps timm torchvision
"$py" -m pip install "${pip_flags[@]}" huggingface_hub safetensors
echo "setup: done ($("$py" -c 'import flow, torch; print("vitflow", flow.__version__, "torch", torch.__version__)'))"
