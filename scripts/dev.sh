#!/usr/bin/env bash
# Set up genlab in .venv (CPU build of torch 2.13.0 + genlab and its test tools), then run:
#   scripts/dev.sh demo          the main job on built-in data
#   scripts/dev.sh test [ARGS]   the test suite (pytest ARGS)
#   scripts/dev.sh setup         only the setup
#   scripts/dev.sh readme        run the demo and show its pictures and metrics table in README.md
#   scripts/dev.sh ARGS...       any genlab command, e.g. scripts/dev.sh train vae --data mnist5k --out runs/vae
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.genlab-installed"
quiet_pip() {  # pip's own exit status survives the filter of its noise
  { "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2>&1; } \
    | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
}
if [ ! -x "$venv/bin/python" ] || [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "genlab: setting up $venv (first time takes a minute or two)" >&2
  python3 -m venv "$venv"
  quiet_pip torch==2.13.0          # the CPU build; genlab runs unchanged on a CUDA build too
  quiet_pip -e '.[test]'
  touch "$stamp"
fi
browser_for_tests() {  # Debian's chromium: the compare report (tests/test_compare.py) and the web page (tests/test_serve_browser.py, via Playwright)
  if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "genlab: installing Debian's chromium for the browser tests" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || echo "genlab: chromium could not be installed; the browser tests will be skipped" >&2
  fi
}
speech_for_tests() {  # Debian's flite: the built-in speech set (tests/test_speech.py)
  if ! command -v flite >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "genlab: installing Debian's flite for the speech tests" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq flite >/dev/null; } \
      || echo "genlab: flite could not be installed; the speech tests will be skipped" >&2
  fi
}
case "${1:-}" in
  test) shift; browser_for_tests; speech_for_tests; exec "$venv/bin/python" -m pytest "$@" ;;
  readme) shift; exec "$venv/bin/python" scripts/readme_demo.py "$@" ;;
  setup) echo "genlab is installed in $venv; run $venv/bin/genlab --help" ;;
  "") exec "$venv/bin/genlab" --help ;;
  *) exec "$venv/bin/genlab" "$@" ;;
esac
