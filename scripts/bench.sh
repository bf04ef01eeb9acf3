#!/usr/bin/env bash
# make bench: wall time and peak memory of each command on SDXL-sized inputs the project
# generates. Inputs are built once into a cache folder outside the repository and reused.
# Prints one line per measurement and writes the same as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.build/release/lorakit
cache=${LORAKIT_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lorakit-bench}
mkdir -p "$cache"
results=$cache/results.json

if ! [ -x /usr/bin/time ]; then
    echo "bench: installing GNU time (for peak memory)" >&2
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get install -y -qq time >/dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq time >/dev/null; }
fi

json_rows=()
last_seconds=0
# measure NAME INPUT-DESCRIPTION COMMAND...: runs COMMAND once, prints and records wall time and
# peak RSS. With THROUGHPUT_OF=FILE set for the call, also MB/s over FILE's size once the command
# has run (the input a command reads, or the output it writes). With FLOOR=SECONDS (a floor row
# measured just before in the same run: cat or cp of the same inputs), also the ratio to it, so
# a loaded machine moves both and the ratio stays comparable. With PEER=SECONDS (the tool we
# replace, timed just before on the same input), also how many times faster. With RUNS=N, the
# fastest of N runs (and the largest peak): for a row whose state a run does not change (a warm
# cache), given to both sides of a ratio, so a noisy machine moves neither. Sets last_seconds.
measure() {
    local name=$1 input=$2; shift 2
    local stats; stats=$(mktemp)
    local runs=${RUNS:-1} run seconds="" kilobytes=0 s k
    for ((run = 0; run < runs; run++)); do
        if ! /usr/bin/time -f "%e %M" -o "$stats" "$@" >/dev/null 2>"$cache/last-stderr.txt"; then
            echo "bench: $name failed:" >&2; cat "$cache/last-stderr.txt" >&2; rm -f "$stats"; exit 1
        fi
        read -r s k <"$stats"
        if [ -z "$seconds" ] || awk -v a="$s" -v b="$seconds" 'BEGIN { exit !(a < b) }'; then seconds=$s; fi
        [ "$k" -gt "$kilobytes" ] && kilobytes=$k
    done
    rm -f "$stats"
    [ "$runs" -gt 1 ] && name="$name, best of $runs"
    last_seconds=$seconds
    local mib; mib=$(awk -v k="$kilobytes" 'BEGIN { printf "%.1f", k / 1024 }')
    local floor=${FLOOR:-} peer=${PEER:-}
    if [ -n "$floor" ] || [ -n "$peer" ]; then
        local notes="" fields=""
        if [ -n "$floor" ]; then
            local ratio; ratio=$(awk -v s="$seconds" -v f="$floor" 'BEGIN { printf "%.1f", (f > 0 ? s / f : 0) }')
            notes="${ratio}x floor"
            fields="\"floor_seconds\": $floor, \"ratio_to_floor\": $ratio, "
        fi
        if [ -n "$peer" ]; then
            local speedup; speedup=$(awk -v s="$seconds" -v p="$peer" 'BEGIN { printf "%.1f", (s > 0 ? p / s : 0) }')
            notes="${notes:+$notes, }${speedup}x faster than ${PEER_NAME:-the peer}"
            fields="$fields\"peer_seconds\": $peer, \"speedup_over_peer\": $speedup, "
        fi
        printf '%-42s %-48s %8.2f s %9s MiB  (%s)\n' "$name" "$input" "$seconds" "$mib" "$notes"
        json_rows+=("{\"command\": \"$name\", \"input\": \"$input\", \"seconds\": $seconds, $fields\"peak_mib\": $mib}")
        return
    fi
    local of=${THROUGHPUT_OF:-}
    if [ -n "$of" ]; then
        local rate; rate=$(awk -v b="$(stat -c %s "$of")" -v s="$seconds" \
            'BEGIN { printf "%.0f", (s > 0 ? b / s / 1e6 : 0) }')
        printf '%-42s %-48s %8.2f s %9s MiB  (%s MB/s)\n' "$name" "$input" "$seconds" "$mib" "$rate"
        json_rows+=("{\"command\": \"$name\", \"input\": \"$input\", \"seconds\": $seconds, \"mb_per_second\": $rate, \"peak_mib\": $mib}")
        return
    fi
    printf '%-42s %-48s %8.2f s %9s MiB\n' "$name" "$input" "$seconds" "$mib"
    json_rows+=("{\"command\": \"$name\", \"input\": \"$input\", \"seconds\": $seconds, \"peak_mib\": $mib}")
}

sparse=$cache/sdxl-base-sparse.safetensors
full=$cache/sdxl-base-f16.safetensors
[ -f "$sparse" ] || "$bin" synth checkpoint "$sparse" --sparse >/dev/null

echo "lorakit bench on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); cache $cache"
printf '%-42s %-48s %10s %13s\n' "command" "input" "wall" "peak memory"
measure "inspect (checkpoint, header only)" "SDXL base fp16, 6.1 GiB, sparse" "$bin" inspect "$sparse"
measure "inspect --json (checkpoint)" "SDXL base fp16, 6.1 GiB, sparse" "$bin" inspect --json "$sparse"
if [ ! -f "$full" ]; then
    measure "synth checkpoint (streamed write)" "SDXL base fp16, 6.1 GiB" "$bin" synth checkpoint "$full.tmp"
    mv "$full.tmp" "$full"
fi
measure "inspect --hash (checkpoint)" "SDXL base fp16, 6.1 GiB" "$bin" inspect --hash "$full"

# Flux.1-dev in FP8 (F8_E4M3, 780 tensors, 11.9 GB): the usual single-file checkpoint, written
# once into the cache (timed then) and kept; skipped when the disk lacks room for it.
flux=$cache/flux1-dev-fp8.safetensors
fluxdesc="Flux.1-dev fp8, 11.9 GB (11.1 GiB), 780 tensors"
if [ ! -f "$flux" ] && [ "$(df -Pk "$cache" | awk 'NR == 2 { print $4 }')" -lt 14000000 ]; then
    echo "bench: less than 14 GB free in $cache: Flux rows skipped" >&2
else
    if [ ! -f "$flux" ]; then
        measure "synth flux-checkpoint fp8 (11.9 GB)" "$fluxdesc" \
            "$bin" synth flux-checkpoint "$flux.tmp" --dtype f8_e4m3
        mv "$flux.tmp" "$flux"
    fi
    measure "inspect flux checkpoint header" "$fluxdesc" "$bin" inspect "$flux"
fi

# A Flux.1 LoRA as kohya trains it: the 304 default modules at rank 32 in bf16 (306 MB), kept in
# the cache; then reading it and converting it between namings (diffusers splits qkv and linear1).
fluxlora=$cache/flux1-lora-r32-kohya.safetensors
fluxloradiffusers=$cache/flux1-lora-r32-diffusers.safetensors
fluxloradesc="Flux.1 LoRA r32 bf16, 304 modules, 306 MB"
THROUGHPUT_OF=$cache/flux1-lora-new.safetensors measure "synth flux-lora (streamed write)" \
    "$fluxloradesc" "$bin" synth flux-lora "$cache/flux1-lora-new.safetensors"
if [ -f "$fluxlora" ]; then rm "$cache/flux1-lora-new.safetensors"
else mv "$cache/flux1-lora-new.safetensors" "$fluxlora"; fi
THROUGHPUT_OF=$fluxlora measure "inspect (Flux LoRA, hashes)" "$fluxloradesc" "$bin" inspect "$fluxlora"
THROUGHPUT_OF=$fluxlora measure "convert --to diffusers (Flux LoRA)" "$fluxloradesc" \
    "$bin" convert "$fluxlora" --to diffusers -o "$fluxloradiffusers"
THROUGHPUT_OF=$fluxlora measure "convert --to comfy (Flux LoRA)" "$fluxloradesc" \
    "$bin" convert "$fluxlora" --to comfy -o "$cache/flux1-lora-comfy.safetensors"
THROUGHPUT_OF=$fluxloradiffusers measure "convert diffusers --to kohya (Flux LoRA)" \
    "Flux.1 LoRA r32 diffusers, 494 modules, 344 MB" \
    "$bin" convert "$fluxloradiffusers" --to kohya -o "$cache/flux1-lora-back.safetensors"
rm -f "$fluxloradiffusers" "$cache/flux1-lora-comfy.safetensors" "$cache/flux1-lora-back.safetensors"
# The seed's recipe on the Flux LoRA against the fp8 base: norms measured (one pass over the
# 11.9 GB base), then cached. The floor is one read of the base plus the LoRA's decomposition.
if [ -f "$flux" ]; then
    fluxnorms=$cache/flux-norms-cache
    rm -rf "$fluxnorms"
    measure "floor: cat the fp8 base" "$fluxdesc" sh -c "cat '$flux' > /dev/null"
    fluxcat=$last_seconds
    FLOOR=$fluxcat measure "resize fro_ckpt=1,thr=-3.55 (Flux, cold cache)" "$fluxloradesc + fp8 base" \
        env XDG_CACHE_HOME="$fluxnorms" "$bin" resize "$flux" "$fluxlora" -r fro_ckpt=1,thr=-3.55 \
        -o "$cache/flux-resized.safetensors"
    measure "resize fro_ckpt=1,thr=-3.55 (Flux, warm cache)" "$fluxloradesc + fp8 base" \
        env XDG_CACHE_HOME="$fluxnorms" "$bin" resize "$flux" "$fluxlora" -r fro_ckpt=1,thr=-3.55 \
        -o "$cache/flux-resized.safetensors"
    rm -rf "$fluxnorms" "$cache/flux-resized.safetensors"
    # Bake the LoRA into the fp8 base (fp8 out, rounded once), beside its floor: a copy of the
    # base (one read, one write). Then extract it back at rank 32 from the pair.
    measure "floor: cp the fp8 base" "$fluxdesc" cp "$flux" "$cache/flux-copy.safetensors"
    rm -f "$cache/flux-copy.safetensors"
    FLOOR=$last_seconds measure "bake (Flux, fp8 into fp8)" "$fluxloradesc into fp8 base" \
        "$bin" bake "$flux" "$fluxlora" -o "$cache/flux-baked.safetensors"
    measure "floor: cat the fp8 base and the baked one" "2 x 11.9 GB" \
        sh -c "cat '$flux' '$cache/flux-baked.safetensors' > /dev/null"
    FLOOR=$last_seconds measure "extract --rank 32 (Flux, fp8 pair)" "fp8 base + baked fp8, 2 x 11.9 GB" \
        "$bin" extract "$flux" "$cache/flux-baked.safetensors" --rank 32 -o "$cache/flux-extracted.safetensors"
    measure "diff (Flux LoRA vs fp8 extraction)" "$fluxloradesc vs rank-32 extraction" \
        "$bin" diff "$fluxlora" "$cache/flux-extracted.safetensors"
    rm -f "$cache/flux-baked.safetensors" "$cache/flux-extracted.safetensors"
fi

# The seed's LoCon: dim 8 / alpha 4, conv_dim 256 / conv_alpha 4, 1,052 modules with text encoders.
locon=$cache/sdxl-locon-seedargs.safetensors
if [ ! -f "$locon" ]; then
    measure "synth lora (seed's LoCon args)" "SDXL LoCon 1052 modules, 229 MiB" \
        "$bin" synth lora "$locon.tmp" --dim 8 --alpha 4 --conv-dim 256 --conv-alpha 4
    mv "$locon.tmp" "$locon"
fi
desc="SDXL LoCon conv 256, 229 MiB"
measure "inspect (LoRA, hashes)" "$desc" "$bin" inspect "$locon"
measure "blocks" "$desc" "$bin" blocks "$locon"
measure "blocks --energy" "$desc" "$bin" blocks --energy "$locon"
measure "chop --keep OUT01" "$desc" "$bin" chop "$locon" --keep OUT01 -o "$cache/chop-out01.safetensors"
measure "chop (INP05 x0.5, all kept)" "$desc" "$bin" chop "$locon" 1,1,1,1,1,0.5,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1 -o "$cache/chop-half.safetensors"
measure "baseline: cp + sync of the same file" "$desc" sh -c "cp '$locon' '$cache/copy.safetensors' && sync '$cache/copy.safetensors'"
rm -f "$cache/chop-out01.safetensors" "$cache/chop-half.safetensors" "$cache/copy.safetensors"

# The seed's resize against the 6 GiB base: an empty norms cache, then a warm one.
norms=$cache/norms
rm -rf "$norms"
mkdir -p "$cache/resized"
# The peer, elias-gaeros/resize_lora, when RESIZE_LORA names its resize_lora.py (it needs PyTorch:
# RESIZE_LORA_PYTHON names a python that has it): cold (its norms_cache.json set aside, put back
# after) and warm, on CPU, just before lorakit's same two runs.
peer_cold="" peer_warm=""
if [ -n "${RESIZE_LORA:-}" ]; then
    peer_python=${RESIZE_LORA_PYTHON:-python3}
    peer_cache=$(dirname "$RESIZE_LORA")/norms_cache.json
    [ -f "$peer_cache" ] && mv "$peer_cache" "$cache/peer-norms-cache.json"
    mkdir -p "$cache/peer-resized"
    measure "peer: resize_lora.py (cold cache)" "$desc + 6.1 GiB base" \
        "$peer_python" "$RESIZE_LORA" "$full" "$locon" -r fro_ckpt=1,thr=-3.55 -d cpu -o "$cache/peer-resized"
    peer_cold=$last_seconds
    RUNS=3 measure "peer: resize_lora.py (warm cache)" "$desc + 6.1 GiB base" \
        "$peer_python" "$RESIZE_LORA" "$full" "$locon" -r fro_ckpt=1,thr=-3.55 -d cpu -o "$cache/peer-resized"
    peer_warm=$last_seconds
    rm -rf "$cache/peer-resized" "$peer_cache"
    [ -f "$cache/peer-norms-cache.json" ] && mv "$cache/peer-norms-cache.json" "$peer_cache"
fi
measure "floor: cat the base" "SDXL base fp16, 6.1 GiB" sh -c "cat '$full' > /dev/null"
PEER_NAME=resize_lora PEER=$peer_cold FLOOR=$last_seconds measure "resize fro_ckpt=1,thr=-3.55 (cold cache)" "$desc + 6.1 GiB base" \
    env XDG_CACHE_HOME="$norms" "$bin" resize "$full" "$locon" -r fro_ckpt=1,thr=-3.55 -o "$cache/resized"
RUNS=3 PEER_NAME=resize_lora PEER=$peer_warm measure "resize fro_ckpt=1,thr=-3.55 (warm cache)" "$desc + 6.1 GiB base" \
    env XDG_CACHE_HOME="$norms" "$bin" resize "$full" "$locon" -r fro_ckpt=1,thr=-3.55 -o "$cache/resized"
measure "resize --rank 8 --conv-rank 32 (kohya)" "$desc" "$bin" resize "$locon" --rank 8 --conv-rank 32 -o "$cache/resized"
# A shareable norm table of the base (every module, both norms), then the seed's resize with it
# instead of the checkpoint.
table=$cache/sdxl-base.norms.safetensors
measure "norms (table of the base)" "6.1 GiB base, 1058 modules" "$bin" norms "$full" -o "$table"
measure "resize fro_ckpt=1,thr=-3.55 --norms" "$desc + norm table" \
    "$bin" resize --norms "$table" "$locon" -r fro_ckpt=1,thr=-3.55 -o "$cache/resized"
rm -rf "$cache/resized" "$table"

# Bake the LoCon into the 6 GiB base (streamed), then extract rank 32 back from the pair.
baked=$cache/sdxl-baked.safetensors
measure "floor: cp + sync of the base" "SDXL base fp16, 6.1 GiB" \
    sh -c "cp '$full' '$cache/copy.safetensors' && sync '$cache/copy.safetensors'"
rm -f "$cache/copy.safetensors"
FLOOR=$last_seconds measure "bake (streamed)" "$desc into 6.1 GiB base" "$bin" bake "$full" "$locon" -o "$baked"
measure "floor: cat base + tuned" "2 x 6.1 GiB" sh -c "cat '$full' '$baked' > /dev/null"
sdxlpair=$last_seconds
FLOOR=$sdxlpair measure "extract --rank 8" "6.1 GiB base + 6.1 GiB tuned" "$bin" extract "$full" "$baked" --rank 8 -o "$cache/extracted.safetensors"
FLOOR=$sdxlpair measure "extract --rank 32 --conv-rank 32" "6.1 GiB base + 6.1 GiB tuned" "$bin" extract "$full" "$baked" --rank 32 --conv-rank 32 -o "$cache/extracted.safetensors"
measure "diff (LoCon vs extracted)" "$desc vs rank-32 extraction" "$bin" diff "$locon" "$cache/extracted.safetensors"
measure "merge (exact, two LoCons)" "$desc x2" "$bin" merge "$locon:0.7" "$locon:0.3" -o "$cache/merged.safetensors"
rm -f "$baked" "$cache/extracted.safetensors" "$cache/merged.safetensors"

# A full-matrix LoKr (both Kronecker sides full: every ΔW has full rank) on the LoCon's modules:
# decomposed from the factors' SVDs, merged exactly one dense module at a time, baked from the
# factors.
lokr=$cache/sdxl-lokr-full.safetensors
[ -f "$lokr" ] || "$bin" synth lora "$lokr" --kind lokr-full >/dev/null
lokrdesc="SDXL full-matrix LoKr, 1052 modules, 7.5 MiB"
measure "resize --rank 4 (full-matrix LoKr)" "$lokrdesc" "$bin" resize "$lokr" --rank 4 -o "$cache/lokr-r4.safetensors"
measure "merge --allow-large (full-matrix LoKr)" "$lokrdesc x2 -> 6.5 GB dense" \
    "$bin" merge "$lokr:0.5" "$lokr:0.5" --allow-large -o "$cache/lokr-merged.safetensors"
rm -f "$cache/lokr-merged.safetensors"
# Two different weights of one LoKr: the sum has no Kronecker form, so each module is formed
# and decomposed through its Float64 Gram.
measure "merge --rank 32 (full-matrix LoKr x2)" "$lokrdesc x2" \
    "$bin" merge "$lokr:0.5" "$lokr:0.25" --rank 32 -o "$cache/lokr-merged.safetensors"
rm -f "$cache/lokr-merged.safetensors"
measure "bake (full-matrix LoKr)" "$lokrdesc into 6.1 GiB base" "$bin" bake "$full" "$lokr" -o "$baked"
rm -f "$baked" "$cache/lokr-r4.safetensors"

# A folder of LoRAs: 500 SDXL-size LoRAs, each a real header over a hole (a sparse file, no
# disk), listed header-only; 100 TinyXL LoCons (20 distinct, each 5 times under other names)
# hashed with an empty hash cache, then with a warm one (rows not cached), then listed again
# from the row cache; a batch resize of 20 SDXL LoRAs
# against the 6 GiB base (its norms read once for the batch).
library=$cache/library
rm -rf "$library"
mkdir -p "$library/headers" "$library/tiny" "$library/batch"
"$bin" synth lora "$library/one.safetensors" --kind lora >/dev/null
header_bytes=$((8 + $(od -An -tu8 -N8 "$library/one.safetensors" | tr -d ' ')))
lora_size=$(stat -c %s "$library/one.safetensors")
for i in $(seq -w 1 500); do
    head -c "$header_bytes" "$library/one.safetensors" >"$library/headers/lora-$i.safetensors"
    truncate -s "$lora_size" "$library/headers/lora-$i.safetensors"
done
measure "inspect a folder --no-hash" "500 SDXL LoRA headers (sparse files)" \
    env XDG_CACHE_HOME="$library/rows" "$bin" inspect --no-hash "$library/headers"
measure "inspect a folder --no-hash (rows cached)" "500 SDXL LoRA headers (sparse files)" \
    env XDG_CACHE_HOME="$library/rows" "$bin" inspect --no-hash "$library/headers"
for seed in $(seq 1 20); do
    "$bin" synth lora "$library/tiny/style-$seed.safetensors" --tinyxl --no-text-encoders --seed "$seed" >/dev/null
    for copy in 1 2 3 4; do
        cp "$library/tiny/style-$seed.safetensors" "$library/tiny/style-$seed-copy$copy.safetensors"
    done
done
tinysize=$(du -sm "$library/tiny" | cut -f1)
measure "inspect a folder, hashed (cold cache)" "100 TinyXL LoCons, $tinysize MB" \
    env XDG_CACHE_HOME="$library/hashes" "$bin" inspect "$library/tiny"
# The row cache serves a second listing whole; without it, the hash cache alone.
mv "$library/hashes/lorakit/library-rows.json" "$library/rows-set-aside.json"
measure "inspect a folder, hashed (hash cache only)" "100 TinyXL LoCons, $tinysize MB" \
    env XDG_CACHE_HOME="$library/hashes" "$bin" inspect "$library/tiny"
measure "inspect a folder, hashed (rows cached)" "100 TinyXL LoCons, $tinysize MB" \
    env XDG_CACHE_HOME="$library/hashes" "$bin" inspect "$library/tiny"
for seed in $(seq 1 20); do
    "$bin" synth lora "$library/batch/lora-$seed.safetensors" --kind lora --seed "$seed" >/dev/null
done
measure "resize a folder fro_ckpt=1,thr=-3.55 (cold)" "20 SDXL LoRAs (r8, 55 MiB each) + 6.1 GiB base" \
    env XDG_CACHE_HOME="$library/norms" "$bin" resize "$full" "$library/batch" -r fro_ckpt=1,thr=-3.55 -o "$library/resized"
rm -rf "$library"

# One training step of the embedded trainer: a dim-8 / conv-dim-8 LoCon on TinyXL at 32x32,
# batch 4, SAVEUS (forward, backward, optimizer; median of 10 steps after 2 warm-up steps).
stats=$(mktemp)
line=$(/usr/bin/time -f "%M" -o "$stats" "$PWD/.build/release/lorakit-bench" --batch 4 --size 32 --dim 8 --conv-dim 8)
peak=$(awk '{ printf "%.1f", $1 / 1024 }' "$stats"); rm -f "$stats"
echo "$line; process peak $peak MiB"
step=$(echo "$line" | sed -E 's/.*: ([0-9.]+) s\/step.*/\1/')
gflops=$(echo "$line" | sed -E 's/.* ([0-9.]+) GFLOP\/s.*/\1/')
json_rows+=("{\"command\": \"train step (LoCon dim 8/conv 8)\", \"input\": \"TinyXL 32x32, batch 4, SAVEUS\", \"seconds\": $step, \"gflops\": $gflops, \"peak_mib\": $peak}")

# The demo's training (make demo's flags, 20 steps, no samples): steps per second end to end.
demo_out=$(mktemp -d)
stats=$(mktemp)
/usr/bin/time -f "%e %M" -o "$stats" "$bin" train \
    --pretrained_model_name_or_path=models/tinyxl-base.safetensors \
    --train_data_dir=fixtures/datasets/zorblat/train --resolution=32,32 --output_dir="$demo_out" \
    --output_name=bench --enable_bucket --min_bucket_reso=16 --max_bucket_reso=64 \
    --bucket_reso_steps=8 --network_module=lycoris.kohya --network_dim=8 --network_alpha=4 \
    --network_args conv_dim=32 conv_alpha=4 --optimizer_type=SAVEUS --learning_rate=0.003 \
    --lr_scheduler=cosine --lr_scheduler_args=num_cycles=0.375 --train_batch_size=8 \
    --multires_noise_iterations=12 --multires_noise_discount=0.4 --flip_aug \
    --shuffle_caption --keep_tokens=1 --caption_extension=.txt --max_train_steps=20 \
    >/dev/null 2>"$cache/last-stderr.txt"
read -r seconds kilobytes <"$stats"
rate=$(grep -o '[0-9.]* it/s' "$cache/last-stderr.txt" | tail -1 | cut -d' ' -f1)
peak=$(awk -v k="$kilobytes" 'BEGIN { printf "%.1f", k / 1024 }')
printf '%-42s %-48s %8.2f s %9s MiB  (%s steps/s)\n' "train (demo settings, 20 steps)" "zorblat 40 images, 32x32, batch 8" "$seconds" "$peak" "$rate"
json_rows+=("{\"command\": \"train (demo settings, 20 steps)\", \"input\": \"zorblat, 32x32, batch 8\", \"seconds\": $seconds, \"steps_per_second\": $rate, \"peak_mib\": $peak}")
rm -rf "$demo_out" "$stats"

{
    echo "["
    for ((i = 0; i < ${#json_rows[@]}; i++)); do
        sep=","; ((i == ${#json_rows[@]} - 1)) && sep=""
        echo "  ${json_rows[$i]}$sep"
    done
    echo "]"
} >"$results"
echo "results: $results"
