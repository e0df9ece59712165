#!/usr/bin/env bash
# Interleaved A/B of two collector builds under the same load generator, as BENCHMARKS.md
# reports it: scripts/ab-collector.sh LOADGEN BEFORE_COLLECTOR AFTER_COLLECTOR [ROUNDS]
# Each round runs both, one after the other; JSON results land in ./ab-results/.
set -euo pipefail
loadgen=$1 before=$2 after=$3 rounds=${4:-3}
mkdir -p ab-results
for round in $(seq 1 "$rounds"); do
    for side in before after; do
        collector=$before
        [ "$side" = after ] && collector=$after
        data=$(mktemp -d)
        "$loadgen" bench --collector "$collector" --data-dir "$data" --json \
            > "ab-results/$side-$round.json"
        rm -rf "$data"
        echo "round $round $side: ab-results/$side-$round.json"
    done
done
