#!/usr/bin/env bash
# Reproduce the embedded models from nothing (about 1h50 on a 2-core CPU; a GPU is used when present):
# the frame autoencoder, the teacher in its latent space, the distilled one-pass student.
# They go to OUT (default out/models; copy them into models/ to ship them). Re-running skips the
# autoencoder and the student when their files exist; the teacher resumes from its .state.
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
[ -f "$AE" ] || $PY -m stream_core.lab.train_autoencoder --steps 6000 --channels 8 --lr 2e-3 --out "$AE"
$PY -m stream_core.lab.train --autoencoder "$AE" --patch 2 --batch 16 --steps 15000 --out "$TEACHER"
$PY -m stream_core.lab.train --autoencoder "$AE" --patch 2 --batch 16 --steps 21000 --out "$TEACHER"   # a warm restart from step 15000
[ -f "$STUDENT" ] || $PY -m stream_core.lab.distill "$TEACHER" --out "$STUDENT" --steps 2000 --lr 1e-4 --guidance 3 --guidance-until 0.75 --chunk-sizes 2 --references 0 2
