#!/usr/bin/env bash
# The figures issue 27's shipping rule and issue 44's goals read, for one emotion model (.onnx):
# clean test and PrivateTest with FER2013-C and the FER+ votes (evaluate.json), and the wild
# yardstick on PrivateTest (wild.json). Run it on the built-in model and on a candidate, then
# `python benchmarks/ship_compare.py BUILTIN_DIR CANDIDATE_DIR`.
#
#   scripts/score_model.sh MODEL.onnx OUT_DIR [ferplus]
#
# ferplus: the model was trained on FER+'s votes, so the yardstick scores it on their majority too.
set -euo pipefail
model=${1:?usage: scripts/score_model.sh MODEL.onnx OUT_DIR}
out=${2:?usage: scripts/score_model.sh MODEL.onnx OUT_DIR}
fer=${FER2013:-../shared/data/fer2013}
votes=${FERPLUS_VOTES:-../shared/data/ferplus/labels.csv}
mkdir -p "$out"
step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "clean test, PrivateTest, FER2013-C and FER+ votes: $model"
emocap evaluate --data "$fer" --model "$model" --corruptions --votes "$votes" \
    --no-tsne --plots "$out/plots" --json "$out/evaluate.json"
step "wild yardstick, PrivateTest: $model"
# A 7-class model on FER2013's labels, not the votes: with --votes the yardstick scores the FER+ majority.
truth=(); [ "${3:-}" = ferplus ] && truth=(--votes "$votes")
emocap evaluate --data "$fer" --model "$model" --wild "${truth[@]}" --no-tsne \
    --plots "$out/plots" --json "$out/wild.json"
step done
