#!/usr/bin/env bash
# Installs everything the test suite needs (apt packages, a venv with the project and its test
# extras), then runs the whole suite inside a network namespace with only loopback, so that no
# test can reach anything but 127.0.0.1 even if the in-process guard (pytest-socket) failed.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(gnome-keyring dbus dbus-x11 libsecret-tools openjdk-17-jdk-headless tmux iproute2 util-linux)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing apt packages: ${missing[*]} (run as root or install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,demo,dev]'

# The import contracts in pyproject.toml (the core imports no UI and no other tui package; the
# commands import nothing of the wizard) are checked before the suite; a broken one fails the run.
.venv/bin/lint-imports

run_suite() {
  .venv/bin/python -m pytest -q -p no:randomly "$@"
}
if [ "$(id -u)" -eq 0 ] && unshare --net true 2>/dev/null; then
  export -f run_suite
  unshare --net bash -c 'ip link set lo up && run_suite "$@"' run_suite "$@"
else
  echo "note: no network namespace available; relying on pytest-socket's loopback guard" >&2
  run_suite "$@"
fi
