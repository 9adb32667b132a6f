#!/usr/bin/env bash
# End-to-end checks against real backends: Prometheus (Debian package) and Arize Phoenix (its own
# virtual environment in .venv-phoenix). Installs whatever is missing, then runs
# `pytest -m e2e tests/e2e`. Non-interactive; safe to run again (a machine that has everything
# goes straight to the tests).
#
#   bash scripts/e2e.sh [PYTEST ARGS...]   install if needed, run the e2e tests
#   bash scripts/e2e.sh --install-only     install if needed, run nothing
#   bash scripts/e2e.sh --screenshots      also install Chromium; write docs/img/*.png (by hand, not CI)
#
# Environment: E2E_PYTHON (the interpreter with tokentrace and its test extras; default .venv, made
# by scripts/dev.sh setup when missing), PHOENIX_SPEC (what to pip install into .venv-phoenix).
set -euo pipefail
cd "$(dirname "$0")/.."

PHOENIX_VENV=".venv-phoenix"
PHOENIX_SPEC="${PHOENIX_SPEC:-arize-phoenix==20.26.1}"
PROMETHEUS_EXPORTER="opentelemetry-exporter-prometheus>=0.51b0"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 DEBIAN_FRONTEND=noninteractive

mode="test"
case "${1:-}" in
  --install-only) mode="install"; shift ;;
  --screenshots) mode="screenshots"; shift ;;
esac

log() { printf 'e2e: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

APT_UPDATED=""
apt_install() {  # apt_install PACKAGE...
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_prometheus() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    return
  fi
  log "installing Prometheus (Debian package)"
  apt_install prometheus
  # On a machine with systemd the package starts its own service on every interface (:9090).
  # The tests start their own Prometheus on a free loopback port: stop the one we just caused.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    as_root systemctl disable --now prometheus
  fi
}

ensure_chromium() {
  command -v chromium >/dev/null && return
  log "installing Chromium (Debian package)"
  apt_install chromium
}

ensure_phoenix() {
  local stamp="$PHOENIX_VENV/.installed-spec"
  if [ -x "$PHOENIX_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$PHOENIX_SPEC" ]; then
    return
  fi
  log "installing $PHOENIX_SPEC into $PHOENIX_VENV"
  [ -x "$PHOENIX_VENV/bin/python" ] || python3 -m venv "$PHOENIX_VENV"
  "$PHOENIX_VENV/bin/python" -m pip install -q "$PHOENIX_SPEC"
  "$PHOENIX_VENV/bin/python" -c "import phoenix.server.main, grpc.aio"
  printf '%s' "$PHOENIX_SPEC" >"$stamp"
}

ensure_test_python() {
  if [ -z "${E2E_PYTHON:-}" ]; then
    [ -x .venv/bin/python ] || bash scripts/dev.sh setup
    E2E_PYTHON=".venv/bin/python"
  fi
  # Until the project's test extras carry it: the exporter that serves the app's /metrics.
  if ! "$E2E_PYTHON" -c "import opentelemetry.exporter.prometheus" 2>/dev/null; then
    log "installing $PROMETHEUS_EXPORTER into the test environment"
    "$E2E_PYTHON" -m pip install -q "$PROMETHEUS_EXPORTER"
  fi
}

start=$(date +%s)
ensure_prometheus
ensure_phoenix
ensure_test_python
log "backends ready in $(($(date +%s) - start)) s: $(prometheus --version 2>&1 | head -n1)"

case "$mode" in
  install) ;;
  screenshots)
    ensure_chromium
    "$E2E_PYTHON" -m tests.e2e.screenshots
    ;;
  test)
    "$E2E_PYTHON" -m pytest -m e2e tests/e2e "$@"
    log "done in $(($(date +%s) - start)) s"
    ;;
esac
