#!/usr/bin/env bash
# The whole efficacy report of the default bundle (issue 5) in one command: every invocation of
# models/scripts/efficacy.sh behind models/reports/efficacy/REPORT.md, in order. Each invocation adds its
# hacker runs to the same cached work directory and rewrites the report from *every* result there, so the
# report written by the last one covers them all (and results.json beside it keeps every figure).
#
# Several hours on 2 cores (MEM-3's PGD ~30 min, MEM-5's ~45 min per training set, each hacker run ~2 min);
# resumable: rerun it after an interruption and finished PGD batches and hacker results are reused.
#   models/scripts/efficacy-full.sh [--report DIR]       (extra arguments go to every invocation)
set -euo pipefail
e="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/efficacy.sh"
run() { echo "== efficacy.sh $*" >&2; bash "$e" "$@"; }
run "$@" --conditions clean,t2ue,regen-wrongkey --robustness jpeg75,resize0.5
run "$@" --conditions clean,t2ue,random,t2ue@50,regen-rightkey
run "$@" --conditions t2ue,t2ue@20,t2ue@80 --hackers clipB,cls --robustness jpeg90,jpeg50,gray,blur1 --augment rrc,heavy
# the scraper's transforms on clean and EM data too: is a drop T2UE's or the transform's?
run "$@" --conditions clean,t2ue,em --hackers clipA,clipB --robust-conditions clean,t2ue,em \
    --robustness jpeg75,resize0.5,blur1,gray
run "$@" --conditions clean,t2ue --hackers cls --robust-conditions clean,t2ue --robustness jpeg75,resize0.5,blur1,gray
run "$@" --conditions clean --cost-only em,mem3,mem5 --cost-n 32
run "$@" --conditions em --hackers cls
run "$@" --conditions mem3 --hackers clipA,clipB
run "$@" --conditions mem5 --hackers clipA,clipB
run "$@" --conditions clean,t2ue --hacker-seeds 1,2
