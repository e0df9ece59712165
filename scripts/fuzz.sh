#!/usr/bin/env bash
# Runs each fuzz target (fuzz/, cargo-fuzz) for SECONDS, one after the other, on one
# core, growing its corpus in fuzz/corpus/<target>/; prints the executions of each at
# the end. FUZZING.md has the targets and what they assert.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (default: 60 s, every target)
#
# Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). FUZZ_SANITIZER=address builds with AddressSanitizer
# (half the speed; the code under test is safe Rust but for zstd's C), and extra
# libFuzzer flags go in FUZZ_FLAGS. A failing input is saved in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-60}
shift || true
sanitizer=${FUZZ_SANITIZER:-none}
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build --sanitizer "$sanitizer"

mkdir -p target/logs
summary=()
status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    log="target/logs/$target.log"
    echo "== $target: ${seconds}s (log: fuzz/$log)"
    # Inputs up to 16 KiB; an input that takes 10 s is a hang, 2 GiB of memory a leak.
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
    if cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 ${FUZZ_FLAGS:-} >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see fuzz/$log and fuzz/artifacts/$target/)"
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    inputs=$(find "corpus/$target" -type f | wc -l)
    summary+=("$(printf '%-18s %12s executions %8s exec/s %6s inputs  %s' \
        "$target" "${runs:-?}" "${rate:-?}" "$inputs" "$result")")
done

echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), ${seconds}s per target, sanitizer $sanitizer:"
printf '%s\n' "${summary[@]}"
exit "$status"
