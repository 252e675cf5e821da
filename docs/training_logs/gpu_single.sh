#!/bin/bash
# Second, single run on a lent GPU: the best recipe of the sweep, alone on the GPU, bfloat16.
# As run on a lent H100 (16 cores; its image has PyTorch but no TensorFlow), from a checkout
# carrying .gpu/data (the shared HAM10000 images and metadata, and benchmarks/teacher_labels.py output)
# and .gpu/whl (keras 3.15.1, namex and optree wheels for its Python 3.12). Logs: gpu_*.log.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=torch PYTHONUNBUFFERED=1
D=.gpu/data
python3 -m skindx train --out runs/e160bf --images $D/images --metadata $D/HAM10000_metadata.csv \
  --batch-size 64 --learning-rate 0.002 --weight-decay 0.02 --label-smoothing 0.1 \
  --class-weight-power 0.75 --patience 100 --workers 6 --max-minutes 3.5 --quiet \
  --input-size 160 --widths 32,64,128,256,256 --convs-per-block 2 --epochs 32 --mixed-precision \
  > $OUT/e160bf.log 2>&1
tar -C runs -cf $OUT/e160bf.tar e160bf/model.keras e160bf/card.json e160bf/ood.npz
tail -5 $OUT/e160bf.log
