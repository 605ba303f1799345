#!/usr/bin/env bash
# Does a refactor change what genlab computes? Trains every family a few steps with fixed seeds and
# draws seeded samples, once with the code at REV (a temporary git worktree) and once with this
# tree, and compares the weights and samples byte for byte (same machine, same kernels: a change in
# any operation shows). Run scripts/dev.sh setup first.
#   scripts/same_outputs.sh REV        e.g. scripts/same_outputs.sh HEAD~5
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/same_outputs.sh REV}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach -q "$work/old" "$rev"
python=$PWD/.venv/bin/python
outputs() {  # SRC OUT: the runs and samples of the code under SRC, their SHA-256 sums on stdout
  local src=$1 out=$2 g="env PYTHONPATH=$1 OMP_NUM_THREADS=1 $python -m genlab"
  for family in pixelrnn vae gan gmm ae; do
    $g train $family --data digits --steps 30 --seed 3 --threads 1 --quiet --out "$out/$family" >/dev/null
    $g sample "$out/$family" --n 16 --seed 5 --out "$out/$family.npz" >/dev/null
  done
  $g train vae --conditional --data digits --steps 30 --seed 3 --threads 1 --quiet --out "$out/cvae" >/dev/null
  $g sample "$out/cvae" --n 16 --seed 5 --label 7 --out "$out/cvae.npz" >/dev/null
  $g train wavenet --data tones --steps 10 --seed 3 --threads 1 --quiet --out "$out/wavenet" >/dev/null
  $g sample "$out/wavenet" --n 2 --seed 5 --out "$out/wavenet.npz" >/dev/null
  (cd "$out" && sha256sum ./*/model.safetensors ./*.npz | sort -k2)
}
outputs "$work/old/src" "$work/before" >"$work/before.txt"
outputs "$PWD/src" "$work/after" >"$work/after.txt"
if diff "$work/before.txt" "$work/after.txt"; then
  echo "same outputs: $(wc -l <"$work/after.txt") files (weights and samples of 7 runs) are byte-identical to $rev's"
else
  echo "outputs differ from $rev's (lines above: < $rev, > this tree)" >&2
  exit 1
fi
