#!/usr/bin/env bash
# Runs every libFuzzer target in fuzz/ for a fixed time, starting from the committed corpus.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 20 s, all targets)
#
# Exits non-zero if any target crashes, panics, hangs or runs out of memory; the input that
# did it is left in fuzz/artifacts/<target>/ (see docs/fuzzing.md for reproducing it).
# Works on stable Rust: targets are built without a sanitizer (`-s none`), which needs no
# nightly flags; the code under test is safe Rust, so panics and failed asserts are what
# we look for. New inputs found here go to a scratch directory, not the committed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
seconds=${1:-20}
shift || true
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into ~/.cargo/bin"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi

# One codegen unit (cargo-fuzz's default) makes slightly faster fuzzers but builds much
# slower on a 2-core machine, and the CI run is short.
build_flags=(--sanitizer none --codegen-units 16)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

started=$(date +%s)
echo "fuzz: building the targets"
if ! cargo fuzz build "${build_flags[@]}" >"$scratch/build.log" 2>&1; then
    tail -n 60 "$scratch/build.log"
    exit 1
fi
echo "fuzz: built in $(( $(date +%s) - started )) s; ${seconds} s per target"
failed=()
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target" "fuzz/corpus/$target"
    log="$scratch/$target.log"
    # The first directory receives new inputs; the committed corpus is only read.
    if cargo fuzz run "${build_flags[@]}" "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
        stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 | tr -s ' \t' ' ')
        echo "fuzz: $target ok: ${stats:-no stats line}"
    else
        echo "fuzz: $target FAILED; last lines of its log:"
        tail -n 40 "$log"
        failed+=("$target")
    fi
done

echo "fuzz: finished in $(( $(date +%s) - started )) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashing inputs are in fuzz/artifacts/ for: ${failed[*]}" >&2
    exit 1
fi
