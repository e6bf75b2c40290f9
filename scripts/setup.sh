#!/usr/bin/env bash
# One-command set-up: .venv with the project (editable) and its dev extras,
# then Debian's iverilog where we can install it. Re-running is cheap: pip runs
# again only when pyproject.toml is newer than the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
fi
stamp=.venv/.zipcore-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing zipcore and its toolchain into .venv (pip)"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
    touch "$stamp"
fi

# Debian packages: iverilog (the Icarus tests) and chromium (the report's
# headless rendering check and screenshot).
need=()
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} = 0 ]; then
    :
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]} (apt-get)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") \
        >/dev/null 2>&1 || echo "setup: apt-get could not install ${need[*]}; their tests will skip"
else
    echo "setup: skipping ${need[*]} (needs root and apt-get); their tests will skip"
fi
