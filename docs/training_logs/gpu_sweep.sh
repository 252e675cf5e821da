#!/bin/bash
# One training sweep on a lent GPU: four `skindx train` runs side by side (KERAS_BACKEND=torch).
# As run on a lent H100 (16 cores; its image has PyTorch but no TensorFlow), from a checkout
# carrying .gpu/data (the shared HAM10000 images and metadata, and benchmarks/teacher_labels.py output)
# and .gpu/whl (keras 3.15.1, namex and optree wheels for its Python 3.12). Logs: gpu_*.log.
# Local dry run: PY=.venv-torch/bin/python OUT=/tmp/out SMOKE="--max-per-class 5 --epochs 1" bash .gpu/run.sh
set -u
PY=${PY:-python3}
if [ -z "${SMOKE:-}" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
  nvidia-smi -L; nproc
fi
export KERAS_BACKEND=torch PYTHONUNBUFFERED=1
$PY -c "import torch, keras; print('torch', torch.__version__, 'keras', keras.__version__, 'cuda', torch.cuda.is_available())"
D=.gpu/data
COMMON=(--images $D/images --metadata $D/HAM10000_metadata.csv --batch-size 64 --learning-rate 0.002
  --weight-decay 0.02 --label-smoothing 0.1 --class-weight-power 0.75 --patience 100 --workers 3
  --max-minutes ${MINUTES:-6.5} --quiet)
T=(--teacher ${TEACHER:-$D/ham_teacher.csv} --distill-weight 0.5)
NET=(--widths 32,64,128,256,256 --convs-per-block 2)
run() {
  local name=$1; shift
  ( $PY -m skindx train --out runs/$name "${COMMON[@]}" "$@" ${SMOKE:-} > $OUT/$name.log 2>&1
    tar -C runs -cf $OUT/$name.tar $name/model.keras $name/card.json $name/ood.npz ) &
}
run a160 --input-size 160 "${NET[@]}" --epochs 60
run b160t --input-size 160 "${NET[@]}" --epochs 60 "${T[@]}"
run c192t --input-size 192 --widths 32,64,128,256,320 --convs-per-block 2 --epochs 50 "${T[@]}"
run d160tc --input-size 160 "${NET[@]}" --epochs 60 --color-constancy "${T[@]}"
wait
grep -h "model written\|Error\|error" $OUT/*.log | head -20
ls -la $OUT
