#!/bin/bash
# Eight compact VGGs at 160 px trained side by side on one lent GPU with `skindx train
# --engine torch` (data on the GPU, bfloat16), each with a wall-clock budget that also
# anneals its schedule.
# As run on a lent H100 (16 cores, PyTorch but no TensorFlow), from a checkout carrying .gpu/data
# (the shared HAM10000 images and metadata, and tools/teacher_labels.py output) and .gpu/whl (keras
# 3.15.1, namex and optree wheels for its Python 3.12). Three of the eight ran out of GPU memory in
# calibration (fixed since: the engine empties its cache first). Logs: gpu_torch_160_*.log.
# Local dry run:
#   PY=.venv-torch/bin/python OUT=/tmp/out MINUTES=0.2 SMOKE="--max-per-class 5" bash docs/training_logs/gpu_torch_sweep160.sh
set -u
PY=${PY:-python3}
if [ -z "${SMOKE:-}" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
  nvidia-smi -L; nproc
fi
export KERAS_BACKEND=torch PYTHONUNBUFFERED=1 TQDM_DISABLE=1
$PY -c "import torch, keras; print('torch', torch.__version__, 'keras', keras.__version__, 'cuda', torch.cuda.is_available())" || exit 4
D=.gpu/data
COMMON=(--engine torch --mixed-precision --images $D/images --metadata $D/HAM10000_metadata.csv
  --input-size 160 --widths 24,48,96,192,256 --convs-per-block 2 --epochs 80 --patience 1000
  --split-seed 42 --max-minutes ${MINUTES:-5.5})
T=(--teacher $D/ham_teacher.csv --distill-weight 0.5)
run() {
  local name=$1; shift
  ( timeout ${LIMIT:-470} $PY -m skindx train --out runs/$name "${COMMON[@]}" "$@" ${SMOKE:-} > runs/$name.log 2>&1
    echo "exit $?" >> runs/$name.log
    cp runs/$name.log runs/$name/train.log
    tar -C runs -cf $OUT/$name.tar $name ) &
}
mkdir -p runs
for s in 21 22 23 24; do run g$s --seed $s; done
for s in 31 32 33 34; do run g$s --seed $s "${T[@]}"; done
wait
grep -h "model written\|rror\|exit" runs/g*.log | head -30
ls -la $OUT
