#!/bin/bash
# The shipped members fine-tuned with exposure jitter on the 2-core CPU (Keras loop), with the
# recipe of the member-3 probe (cpu_finetune_exposure_member3.log): --exposure 0.4, learning rate
# 0.0003, no warm-up, 6 epochs planned in a 16-minute budget, the rest of each member's recipe
# (member 1 keeps its teacher). Member 3 is the probe itself (runs/ft3); this runs members 1 and 2:
#   skindx split-ensemble models/default --out runs/shipped
#   PY=.venv/bin/python bash docs/training_logs/cpu_finetune_exposure.sh
# Rule, fixed before either ran: the ensemble of the three (`skindx ensemble runs/ft1 runs/ft2
# runs/ft3`) replaces the shipped model only if, on the validation split (`skindx photo-quality`),
#   - its balanced accuracy on the images as they are is at least 0.664 (the shipped 0.674 - 0.01),
#   - its mean over the 30%-darker, 40%-brighter and blurred images is at least 0.596 (the
#     shipped 0.566 + 0.03), and
#   - its melanoma sensitivity at the arg-max is at least 0.55 (the shipped 0.625 - 0.075).
# Only then is the test set run, once.
set -eu
H=../shared/data/ham10000
COMMON=(--images $H/images --metadata $H/HAM10000_metadata.csv --architecture compact_vgg
  --input-size 128 --widths 24,48,96,192,256 --convs-per-block 2 --epochs 6 --batch-size 64
  --learning-rate 0.0003 --weight-decay 0.02 --warmup-epochs 0 --dropout 0.3 --patience 1000
  --label-smoothing 0.1 --class-weight-power 0.75 --val-fraction 0.15 --split-seed 42
  --max-minutes 16 --exposure 0.4 --workers 2)
PY=${PY:-python3}
export TQDM_DISABLE=1 PYTHONUNBUFFERED=1
if [ "${PROBE:-}" = warmup ]; then
  # (a repeated option: argparse keeps the last, so --warmup-epochs 1 overrides the 0 above)
  exec $PY -m skindx train "${COMMON[@]}" --seed 42 --warmup-epochs 1 \
    --init-from runs/shipped/member3 --out runs/ft3w > docs/training_logs/cpu_finetune_exposure_member3_warmup.log 2>&1
fi
$PY -m skindx train "${COMMON[@]}" --seed 51 --teacher .gpu/data/ham_teacher.csv --distill-weight 0.5 \
  --init-from runs/shipped/member1 --out runs/ft1 > docs/training_logs/cpu_finetune_exposure_member1.log 2>&1
$PY -m skindx train "${COMMON[@]}" --seed 41 \
  --init-from runs/shipped/member2 --out runs/ft2 > docs/training_logs/cpu_finetune_exposure_member2.log 2>&1
# Result (the model card's 'What was tried'): members 0.602, 0.610 and 0.626 on validation, their
# ensemble 0.613 as they are, 0.601 over the perturbations, melanoma sensitivity 0.512: only the
# robustness condition met, so the shipped model stays and the test set was not run.
# A probe after that result, not a candidate: member 3 again with one warm-up epoch, to see
# whether the warm-up avoids the first epoch's loss (the GPU 'finetune' sweep case has none):
#   PY=.venv/bin/python PROBE=warmup bash docs/training_logs/cpu_finetune_exposure.sh
# Result: 0.587 after the warm-up epoch (0.596 without it), best 0.623 at epoch 5 (0.626): the
# warm-up does not avoid the first epoch's loss; the exposure jitter itself costs it.
