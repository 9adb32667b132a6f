#!/usr/bin/env bash
# One entry point for every habit of the project. Usage: bash scripts/dev.sh TARGET
#   setup      create .venv and install tokentrace with its dev extras
#   format     ruff format + import sorting
#   lint       ruff check and ruff format --check
#   typecheck  mypy --strict on the package and its tests
#   test       pytest on the newest supported openai SDK
#   compat     pytest's SDK tests on the oldest supported openai 1.x and on the newest 2.x, and the
#              origin article's legacy calls on openai 0.28 (tests/legacy)
#   frameworks tests/frameworks in .venv-frameworks: langchain-openai, litellm, openai-agents,
#              instructor, pydantic-ai and the official openai-v2 instrumentation (docs/frameworks.md)
#   peers      the official genai-anthropic and google-genai instrumentations 1.3 beside the providers'
#              SDKs in .venv-genai-latest: they need opentelemetry-util-genai 1.3, which openai-v2
#              (in .venv and .venv-frameworks) cannot share (tests/sdk/test_coexist_official_latest.py)
#   check      all of the above but format (what CI runs)
#   demo       tokentrace demo: local server, real SDK and requests calls, a budget that trips, a report
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=".venv"
OLDEST_OPENAI="openai==1.40.0 httpx==0.27.2"   # httpx 0.28 dropped an argument openai < 1.55 passes
OPENAI_2="openai>=2,<3 httpx<1"
# The 0.x SDK the origin article uses (on requests and aiohttp; numpy for its openai.Embedding).
LEGACY_OPENAI="openai==0.28.1 numpy aiohttp requests pytest pytest-asyncio"
# The framework matrix: versions that install together (with the openai SDK they agree on); raise
# them together. opentelemetry-instrumentation-openai-v2 2.4b0 needs opentelemetry-util-genai < 1.2.
FRAMEWORKS="openai==3.3.0 langchain-openai==1.8.1 litellm==1.110.2 openai-agents==0.24.0 instructor==1.17.0
  pydantic-ai-slim[openai]==2.38.0 opentelemetry-instrumentation-openai-v2==2.4b0 opentelemetry-util-genai==1.1b0"
# llama-index's OpenAI LLM in the openai 2.x compat venv (it runs tests/frameworks/test_llama_index.py).
LLAMA_INDEX="llama-index-llms-openai==0.8.3 llama-index-core==0.14.25"
# The official instrumentations of the providers' SDKs on util-genai 1.3 (own venv: see peers below).
GENAI_LATEST="opentelemetry-instrumentation-genai-anthropic==1.3b0 opentelemetry-instrumentation-google-genai==1.3b0
  opentelemetry-util-genai==1.3b0 anthropic>=2.17 google-genai>=3 httpx2 aiohttp pytest pytest-asyncio"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  ensure_redis_server
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

# The fleet-budget tests start their own redis-server (Debian's package) on a free loopback port.
ensure_redis_server() {
  if command -v redis-server >/dev/null; then
    return
  fi
  echo "dev.sh: installing redis-server (Debian package) for the fleet-budget tests" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
}

format() { "$VENV/bin/ruff" format . && "$VENV/bin/ruff" check --select I --fix -q .; }
lint() { "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check -q .; }
typecheck() { "$VENV/bin/mypy"; }  # what it checks and how strictly: [tool.mypy] in pyproject.toml
test_latest() {
  "$VENV/bin/python" -c "import openai; print('openai', openai.__version__)"
  "$VENV/bin/python" -m pytest "$@"
}

compat_one() {  # $1: venv dir, rest: requirement specs
  local dir="$1"; shift
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  # shellcheck disable=SC2086
  "$dir/bin/python" -m pip install -q -e ".[test]" $*
  "$dir/bin/python" -c "import openai; print('openai', openai.__version__)"
  "$dir/bin/python" -m pytest -q tests/sdk tests/plain_http tests/test_tracking.py tests/test_instrumentor.py
}
compat() {
  compat_one .venv-openai-oldest $OLDEST_OPENAI
  compat_one .venv-openai-2 "$OPENAI_2"
  # shellcheck disable=SC2086
  .venv-openai-2/bin/python -m pip install -q $OPENAI_2 $LLAMA_INDEX
  .venv-openai-2/bin/python -m pytest -q tests/frameworks/test_llama_index.py
  # openai 0.28: no SDK patch; its calls are recorded through the requests and aiohttp patches.
  [ -x .venv-openai-0/bin/python ] || "$PYTHON" -m venv .venv-openai-0
  # shellcheck disable=SC2086
  .venv-openai-0/bin/python -m pip install -q -e . $LEGACY_OPENAI
  .venv-openai-0/bin/python -m pytest -q tests/legacy
}

frameworks() {
  local dir=.venv-frameworks
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  # shellcheck disable=SC2086
  "$dir/bin/python" -m pip install -q -e ".[test]" $FRAMEWORKS
  "$dir/bin/python" -m pytest -q tests/frameworks "$@"
}

peers() {
  local dir=.venv-genai-latest
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  # shellcheck disable=SC2086
  "$dir/bin/python" -m pip install -q -e ".[demo]" $GENAI_LATEST
  "$dir/bin/python" -m pytest -q tests/sdk/test_coexist_official_latest.py "$@"
}

demo() { setup; "$VENV/bin/tokentrace" demo; }

target="${1:-check}"
shift || true
case "$target" in
  setup) setup ;;
  format) format ;;
  lint) lint ;;
  typecheck) typecheck ;;
  test) test_latest "$@" ;;
  compat) compat ;;
  frameworks) frameworks "$@" ;;
  peers) peers "$@" ;;
  demo) demo ;;
  check) setup; lint; typecheck; test_latest "$@"; compat; frameworks; peers ;;
  *) echo "unknown target: $target" >&2; exit 2 ;;
esac
