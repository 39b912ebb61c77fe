#!/usr/bin/env bash
# Reproduce the embedded models from nothing (about 1h30 on a 2-core CPU when nothing else runs;
# a GPU is used when present):
#   AE       the frame autoencoder, from random weights on the wrapping world: gradient clipping, no
#            noise on its latents, every colour with every shape, so it keeps corners (13.5 min)
#   TEACHER  the DiT from random weights in AE's latent space, 20,000 steps (60 min)
#   STUDENT  distilled from TEACHER to one pass per shift (8 min), then 400 steps more of which
#            a tenth are start-up buffers (every frame at one level), so its streams start well (2 min)
#   DECODER  the autoencoder's decoder tuned on the student's own estimates of clean latents, with a
#            silhouette loss, so its squares keep their corners; teacher and student both carry it (3 min)
# They go to OUT (default out/models; copy the teacher and student into models/ to ship them).
# Re-running skips the files that exist; the teacher resumes from its .state.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
OUT=${OUT:-out/models}
PY=.venv/bin/python
mkdir -p "$OUT"
AE=$OUT/streamdit-shapes-autoencoder.safetensors   # the teacher carries a copy
TEACHER="$OUT/streamdit-shapes-64px.safetensors"
STUDENT="$OUT/streamdit-shapes-64px-distilled.safetensors"
TRAINED_TEACHER="$OUT/streamdit-shapes-64px-trained.safetensors"                  # the teacher before its decoder is tuned
STREAMING_STUDENT="$OUT/streamdit-shapes-64px-distilled-streaming.safetensors"   # before it learns the start-up
DISTILLED_STUDENT="$OUT/streamdit-shapes-64px-distilled-untuned.safetensors"     # before its decoder is tuned
[ -f "$AE" ] || $PY -m stream_core.lab.train_autoencoder --steps 15000 --channels 8 --lr 1e-3 --clip-grad 1 --every-pair --latent-noise 0 --out "$AE"
$PY -m stream_core.lab.train --autoencoder "$AE" --patch 2 --batch 16 --steps 20000 --out "$TRAINED_TEACHER"
[ -f "$STREAMING_STUDENT" ] || $PY -m stream_core.lab.distill "$TRAINED_TEACHER" --out "$STREAMING_STUDENT" --steps 2000 --lr 1e-4 --guidance 2 --guidance-until 0.75 --chunk-sizes 2 --references 0 2
[ -f "$DISTILLED_STUDENT" ] || $PY -m stream_core.lab.distill "$TRAINED_TEACHER" --init "$STREAMING_STUDENT" --out "$DISTILLED_STUDENT" --steps 400 --lr 3e-5 --guidance 2 --guidance-until 0.75 --chunk-sizes 2 --references 0 2 --uniform 0.1
[ -f "$STUDENT" ] || $PY -m stream_core.lab.tune_decoder "$DISTILLED_STUDENT" --steps 3000 --out "$STUDENT" --also "$TRAINED_TEACHER" "$TEACHER"
