#!/usr/bin/env bash
# Issue 27's shipping rule, steps 2-4, for one candidate checkpoint: export it as the built-in
# model is made (mirror averaging, int8 with 7-bit weights), calibrate it on PublicTest, then
# score it (scripts/score_model.sh). Nothing here chooses: the candidate was chosen on
# PublicTest before this runs (step 1). It ships only if its clean PrivateTest beats the
# built-in model's; `python benchmarks/ship_compare.py` puts the two side by side.
#
#   scripts/ship_candidate.sh CHECKPOINT OUT_DIR [ferplus | fast]
#
# ferplus: a run of `--labels ferplus`, calibrated and scored on FER+'s vote majority; the file
# that would replace src/emocap/models/emotion-ferplus.onnx is then OUT_DIR/emotion-ferplus.onnx.
# fast: the cheap model (issue 27 goal 3), exported without mirror averaging, which would double
# its work a face; the file is then OUT_DIR/emotion-fast.onnx.
#
# Writes OUT_DIR/candidate.onnx (fp32), candidate.int8.onnx, emotion.onnx (int8, calibrated:
# the file that would replace src/emocap/models/emotion.onnx), evaluate.json and wild.json.
set -euo pipefail
checkpoint=${1:?usage: scripts/ship_candidate.sh CHECKPOINT OUT_DIR}
out=${2:?usage: scripts/ship_candidate.sh CHECKPOINT OUT_DIR}
fer=${FER2013:-../shared/data/fer2013}
votes=${FERPLUS_VOTES:-../shared/data/ferplus/labels.csv}
calibrated=$out/emotion.onnx truth=() mirror=(--mirror)
case "${3:-}" in
  ferplus) calibrated=$out/emotion-ferplus.onnx truth=(--votes "$votes") ;;
  fast) calibrated=$out/emotion-fast.onnx mirror=() ;;
  "") ;;
  *) echo "scripts/ship_candidate.sh: the third argument is ferplus or fast, got '$3'" >&2; exit 2 ;;
esac
mkdir -p "$out"
printf '\n== export (%s)\n' "$(date -u +%H:%M:%S)"
emocap export "$checkpoint" -o "$out/candidate.onnx" --data "$fer" "${mirror[@]}"
printf '\n== calibrate on PublicTest (%s)\n' "$(date -u +%H:%M:%S)"
emocap calibrate --data "$fer" --model "$out/candidate.int8.onnx" "${truth[@]}" -o "$calibrated"
[ "${3:-}" = ferplus ] && kind=ferplus || kind=""
"$(dirname "$0")/score_model.sh" "$calibrated" "$out" $kind
