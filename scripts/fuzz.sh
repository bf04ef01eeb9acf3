#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (AddressSanitizer on) and runs one of them.
#
# Usage: scripts/fuzz.sh reader|lora|json|vector|recipe|prompt [SECONDS]     (default 60 seconds)
#   reader  FuzzSafeTensorsReader: Header.parse(fileBytes:) plus a writer round trip
#   lora    FuzzLoRAFile: a file read as a LoRA (LoRAFile) and every adapter's ΔW
#   json    FuzzMetadataJSON: JSONValue.parse plus a serialized() round trip
#   vector  FuzzBlockVector: BlockWeights.parse / .keep (chop and bake block vectors)
#   recipe  FuzzResizeRecipe: ResizeRecipe.parseList (resize --recipe) plus a reparse
#   prompt  FuzzPromptFile: SamplePrompt.parse(fileBytes:) (kohya sample-prompt files)
#
# The corpus lives in fuzz-corpus/<target>/ (kept between runs, gitignored) and is seeded on
# every run: reader and json from fixtures/safetensors/, the others from Fuzz/Seeds/<target>/. Inputs that crash, hang or run out of memory land in
# fuzz-corpus/artifacts/<target>/; copy the ones worth keeping to Fuzz/findings/. The libFuzzer
# log is kept in fuzz-corpus/logs/. Extra arguments after SECONDS go to libFuzzer unchanged.
# Exits 1 when the run produced an artifact.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-}
seconds=${2:-60}
shift $(($# > 2 ? 2 : $#))

case "$target" in
    reader) product=FuzzSafeTensorsReader dictionary=safetensors.dict ;;
    lora) product=FuzzLoRAFile dictionary=lora.dict ;;
    json) product=FuzzMetadataJSON dictionary=json.dict ;;
    vector) product=FuzzBlockVector dictionary=vector.dict ;;
    recipe) product=FuzzResizeRecipe dictionary=recipe.dict ;;
    prompt) product=FuzzPromptFile dictionary=prompt.dict ;;
    *)
        echo "usage: scripts/fuzz.sh reader|lora|json|vector|recipe|prompt [SECONDS] [libFuzzer flags...]" >&2
        exit 2
        ;;
esac
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds == 0)); then
    echo "fuzz: SECONDS must be a positive whole number, not '$seconds'" >&2
    exit 2
fi

max_len=4096
scratch="$root/Fuzz/.build-fuzz"
corpus="$root/fuzz-corpus/$target"
artifacts="$root/fuzz-corpus/artifacts/$target"
logs="$root/fuzz-corpus/logs/$target-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$corpus" "$artifacts" "$logs"

# --- build -------------------------------------------------------------------------------
# SwiftPM renames each executable's entry point, so the targets call LLVMFuzzerRunDriver from
# their own @main (Fuzz/Sources/CLibFuzzer/shim.h).
build() {
    (cd "$root/Fuzz" && swift build -c release --scratch-path "$scratch" --product "$product" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >&2)
}
echo "fuzz: building $product (release, -sanitize=fuzzer,address)" >&2
# SwiftPM can keep a stale build plan after files of the path dependency (the main package)
# are removed ("missing inputs"); drop the plan and try once more.
if ! build; then
    echo "fuzz: build failed; retrying with a fresh build plan" >&2
    rm -f "$scratch/release.yaml" "$scratch/release/description.json"
    build
fi
binary="$scratch/release/$product"

# --- seed --------------------------------------------------------------------------------
# Seeds are named by content hash, so reseeding is idempotent. Files above max_len would be
# truncated by libFuzzer; for those, the header alone (8 + N bytes) is seeded instead.

# Prints N, the little-endian u64 at the start of a .safetensors file, or nothing.
header_length() {
    local length
    length=$(od -An -t u8 -N 8 "$1" 2>/dev/null | tr -d ' ')
    [[ "$length" =~ ^[0-9]+$ ]] && echo "$length"
}

# Copies stdin into the corpus under its sha1.
seed() {
    local file
    file=$(mktemp "$corpus/.seed.XXXXXX")
    cat >"$file"
    if [ -s "$file" ] && (($(stat -c %s "$file") <= max_len)); then
        mv "$file" "$corpus/$(sha1sum "$file" | cut -d' ' -f1)"
    else
        rm -f "$file"
    fi
}

while IFS= read -r -d '' file; do
    size=$(stat -c %s "$file")
    length=$(header_length "$file" || true)
    case "$target" in
        reader)
            if ((size <= max_len)); then
                seed <"$file"
            elif [ -n "$length" ] && ((length <= max_len - 8)); then
                head -c $((8 + length)) "$file" | seed
            fi
            ;;
        json)
            # The header text of every file, valid or not.
            if [ -n "$length" ] && ((length <= max_len && length + 8 <= size)); then
                head -c $((8 + length)) "$file" | tail -c +9 | seed
            fi
            ;;
        *) break ;;
    esac
done < <(find "$root/fixtures/safetensors" -name '*.safetensors' -type f -print0 | sort -z)
if [ "$target" = json ]; then
    while IFS= read -r -d '' file; do seed <"$file"; done \
        < <(find "$root/fixtures/safetensors" -name '*.json' -type f -print0 | sort -z)
fi
if [ -d "$root/Fuzz/Seeds/$target" ]; then
    while IFS= read -r -d '' file; do seed <"$file"; done \
        < <(find "$root/Fuzz/Seeds/$target" -type f -print0 | sort -z)
fi

# --- run ---------------------------------------------------------------------------------
stamp="$logs/.start"
touch "$stamp"
echo "fuzz: running $product for $seconds s on $(find "$corpus" -maxdepth 1 -type f ! -name '.*' | wc -l) inputs" >&2
# -jobs=1 runs the fuzzer in one child process whose output goes to fuzz-0.log in the working
# directory; -workers=1 keeps it to one core.
# Swift's own crash backtracer reads memory ASan forbids and buries the report; libFuzzer's
# deadly-signal handler prints the stack instead.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}
status=0
started=$(date +%s)
(cd "$logs" && "$binary" "$corpus" \
    -dict="$root/Fuzz/Dictionaries/$dictionary" \
    -artifact_prefix="$artifacts/" \
    -max_len=$max_len -rss_limit_mb=2048 -timeout=10 \
    -max_total_time="$seconds" -print_final_stats=1 \
    -workers=1 -jobs=1 "$@") >"$logs/driver.log" 2>&1 || status=$?
elapsed=$(($(date +%s) - started))
log="$logs/fuzz-0.log"
[ -f "$log" ] || log="$logs/driver.log"

# --- summary -----------------------------------------------------------------------------
last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1 || true)
executions=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' || true)
[ -n "$executions" ] || executions=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
rate=$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{print $2}' || true)
[ -n "$rate" ] || rate=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$last")
cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
corpus_files=$(find "$corpus" -maxdepth 1 -type f ! -name '.*' | wc -l)
corpus_bytes=$(find "$corpus" -maxdepth 1 -type f ! -name '.*' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
found=$(find "$artifacts" -maxdepth 1 -type f -newer "$stamp" | sort)
crashes=$(grep -c . <<<"$found" || true)

if [ -n "$found" ]; then
    echo "fuzz: artifacts:" >&2
    sed 's/^/  /' <<<"$found" >&2
    grep -m 1 -E '^==[0-9]+==ERROR|^Fatal error|fatal error' "$log" | sed 's/^/  /' >&2 || true
fi
echo "fuzz $target: ${executions:-?} executions in $elapsed s (${rate:-?} exec/s), cov ${cov:-?} ft ${ft:-?}," \
    "corpus $corpus_files files ($corpus_bytes bytes), $crashes crashes/hangs found; log $log"
if ((crashes > 0)); then exit 1; fi
if ((status != 0)); then
    echo "fuzz: libFuzzer exited with status $status without leaving an artifact; see $log" >&2
    exit "$status"
fi
