#!/usr/bin/env bash
# The papers' protocols as genlab commands (see docs/reproduce.md for each one's source and deviations).
#   scripts/reproduce.sh FAMILY [--quick] [--out DIR]
# FAMILY: pixelcnn | row-lstm | diagonal-bilstm | gated-pixelcnn-cifar | vae | dcgan
# --quick: a few minutes on a CPU (training budget in minutes, fewer test images and samples): checks
#          the recipe end to end; its figures are NOT the paper's protocol.
# The data set must be fetched first (`genlab fetch NAME`, the only step that downloads);
# REPRO_DATA=SPEC swaps the data set (e.g. mnist5k for a smoke run without network).
set -euo pipefail
cd "$(dirname "$0")/.."
genlab=${GENLAB:-.venv/bin/genlab}
family=${1:-}
shift || true
quick=0
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    *) echo "reproduce.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# family -> data, training flags, evaluation flags, the paper's figure
case "$family" in
  pixelcnn|row-lstm|diagonal-bilstm)
    data=binarized-mnist
    train=(pixelrnn --arch "$family" --colors 2 --layers 7 --width 16 --batch-size 16 --lr 1e-3 --epochs 50 --ema 0)
    evaluate=(--n 0)
    paper="NLL 81.30 (PixelCNN) / 80.54 (Row LSTM) / 79.20 (Diagonal BiLSTM) nats, van den Oord et al. 2016 Table 4" ;;
  gated-pixelcnn-cifar)
    data=cifar10
    train=(pixelrnn --arch gated-pixelcnn --output raw --layers 15 --width 128 --batch-size 16 --lr 1e-3 --epochs 100 --ema 0)
    evaluate=(--n 0)
    paper="3.03 bits/dim, van den Oord et al. 2016 (Conditional Image Generation with PixelCNN Decoders), Table 1" ;;
  vae)
    data=binarized-mnist
    train=(vae --arch mlp --colors 2 --hidden 200 --latent 50 --batch-size 20 --lr 1e-3 --epochs 3280)
    evaluate=(--iwae-k 5000 --n 0)
    paper="NLL 86.76 nats (VAE, one stochastic layer, IWAE-5000 estimate), Burda et al. 2016 Table 1" ;;
  dcgan)
    data=cifar10
    train=(gan --arch dcgan --loss non-saturating --batch-size 64 --lr 2e-4 --beta1 0.5 --beta2 0.999 --epochs 100)
    evaluate=(--features inception --n 10000)
    paper="Inception FID about 50 over 10k samples (StudioGAN's DCGAN on CIFAR-10)" ;;
  *) echo "usage: scripts/reproduce.sh pixelcnn|row-lstm|diagonal-bilstm|gated-pixelcnn-cifar|vae|dcgan [--quick] [--out DIR]" >&2
     exit 2 ;;
esac
data=${REPRO_DATA:-$data}
out=${out:-repro/$family}
if [ "$quick" = 1 ]; then
  budget=(--minutes 3)
  evaluate=("${evaluate[@]/5000/100}")  # IWAE-100 instead of 5000
  evaluate=("${evaluate[@]/10000/500}")
  limit=(--limit 500)
else
  budget=()
  limit=()
fi
# --minutes replaces --epochs in a quick run: drop the epochs pair
args=()
skip=0
for a in "${train[@]}"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  if [ "$quick" = 1 ] && [ "$a" = --epochs ]; then skip=1; continue; fi
  args+=("$a")
done
echo "reproduce $family on $data: the paper reports $paper" >&2
"$genlab" train "${args[@]}" --data "$data" "${budget[@]}" --device auto --out "$out/run"
"$genlab" evaluate "$out/run" "${evaluate[@]}" "${limit[@]}" --device auto --out "$out/metrics.json"
echo "paper: $paper" >&2
