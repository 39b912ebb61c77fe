#!/usr/bin/env bash
# Reproduce the embedded models (about 1h50 on a 2-core CPU; a GPU is used when present). They are
# the models first made from nothing on the bouncing world, fine-tuned on the wrapping world:
#   BASE     the bouncing world's teacher, taken from the commit before the world wrapped (9233392^);
#            its own recipe from nothing is that commit's scripts/train_models.sh (1h50). From nothing
#            on the wrapping world the autoencoder stalls (docs/model.md).
#   AE       its frame autoencoder fine-tuned on the wrapping world (4 min)
#   TEACHER  BASE fine-tuned in AE's latent space, 4,000 steps, then a warm restart to 12,000 (80 min)
#   STUDENT  distilled from TEACHER to one pass per shift (15-20 min), then 400 steps more of which
#            a tenth are start-up buffers (every frame at one level), so its streams start well (4 min)
# They go to OUT (default out/models; copy the teacher and student into models/ to ship them).
# Re-running skips the files that exist; the teacher resumes from its .state.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
OUT=${OUT:-out/models}
PY=.venv/bin/python
mkdir -p "$OUT"
BASE=${BASE:-$OUT/streamdit-shapes-64px-bouncing.safetensors}   # or point BASE at that teacher yourself
AE=$OUT/streamdit-shapes-autoencoder.safetensors   # the teacher carries a copy
TEACHER="$OUT/streamdit-shapes-64px.safetensors"
STUDENT="$OUT/streamdit-shapes-64px-distilled.safetensors"
STREAMING_STUDENT="$OUT/streamdit-shapes-64px-distilled-streaming.safetensors"   # before it learns the start-up
if [ ! -f "$BASE" ] && ! git show 9233392^:models/streamdit-shapes-64px.safetensors > "$BASE.part"; then
  rm -f "$BASE.part"
  echo "the first stage's teacher comes from commit 9233392^: run this in a full git clone, or set BASE to that file" >&2
  exit 1
fi
[ -f "$BASE" ] || mv "$BASE.part" "$BASE"
[ -f "$AE" ] || $PY -m stream_core.lab.train_autoencoder --init "$BASE" --steps 1500 --lr 3e-4 --out "$AE"
$PY -m stream_core.lab.train --init "$BASE" --autoencoder "$AE" --batch 16 --steps 4000 --lr 1e-4 --out "$TEACHER"
$PY -m stream_core.lab.train --init "$BASE" --autoencoder "$AE" --batch 16 --steps 12000 --lr 1e-4 --out "$TEACHER"   # a warm restart from step 4000
[ -f "$STREAMING_STUDENT" ] || $PY -m stream_core.lab.distill "$TEACHER" --out "$STREAMING_STUDENT" --steps 2000 --lr 1e-4 --guidance 3 --guidance-until 0.75 --chunk-sizes 2 --references 0 2
[ -f "$STUDENT" ] || $PY -m stream_core.lab.distill "$TEACHER" --init "$STREAMING_STUDENT" --out "$STUDENT" --steps 400 --lr 3e-5 --guidance 3 --guidance-until 0.75 --chunk-sizes 2 --references 0 2 --uniform 0.1
