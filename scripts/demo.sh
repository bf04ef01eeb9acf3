#!/usr/bin/env bash
# make demo: the main job on the bundled defaults. Today: read the bundled reference LoRAs and a
# generated TinyXL base checkpoint the way a user does first with a downloaded file.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/lorakit
work=${LORAKIT_DEMO_DIR:-.build/demo}
mkdir -p "$work"

echo "== lorakit inspect: a LyCORIS LoCon (SDXL layout, TinyXL widths)"
"$bin" inspect fixtures/surgery/inputs/locon_a.safetensors
echo
echo "== lorakit inspect: a diffusers/PEFT LoRA, keys recognised and mapped to kohya's"
"$bin" inspect --no-hash fixtures/surgery/inputs/peft_diffusers.safetensors
echo
echo "== lorakit synth + inspect: the TinyXL base checkpoint, from the header alone"
"$bin" synth checkpoint "$work/tinyxl-base.safetensors" --tinyxl --unet-only --dtype f32
"$bin" inspect "$work/tinyxl-base.safetensors"
echo
echo "== lorakit blocks --energy: where the LoCon's weight difference lives"
"$bin" blocks --energy fixtures/surgery/inputs/locon_a.safetensors
echo
echo "== lorakit chop: keep OUT01 only (the seed's example vector)"
"$bin" chop fixtures/surgery/inputs/locon_a.safetensors 1,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0 -o "$work/locon_a-out01.safetensors"
"$bin" inspect --no-hash "$work/locon_a-out01.safetensors" | sed -n '1,8p'
echo
echo "== lorakit resize: the seed's recipe against the TinyXL base, and a 0.5 MiB target"
"$bin" resize "$work/tinyxl-base.safetensors" fixtures/surgery/inputs/locon_a.safetensors \
    -r 'fro_ckpt=1,thr=-3.55:fro_ckpt=1,size=0.5' -o "$work" -v
echo
echo "== lorakit merge + diff: an exact 0.7/0.3 merge, and what a rank-8 SVD merge loses"
"$bin" merge fixtures/surgery/inputs/locon_a.safetensors:0.7 fixtures/surgery/inputs/locon_b.safetensors:0.3 -o "$work/mix.safetensors"
"$bin" merge fixtures/surgery/inputs/locon_a.safetensors:0.7 fixtures/surgery/inputs/locon_b.safetensors:0.3 --rank 8 -o "$work/mix-r8.safetensors"
"$bin" diff "$work/mix.safetensors" "$work/mix-r8.safetensors" | head -7
echo
echo "== lorakit bake + extract: into the TinyXL base and back"
"$bin" bake "$work/tinyxl-base.safetensors" fixtures/surgery/inputs/locon_a.safetensors -o "$work/tinyxl-locon_a.safetensors"
"$bin" extract "$work/tinyxl-base.safetensors" "$work/tinyxl-locon_a.safetensors" --rank 8 --conv-rank 8 -o "$work/extracted.safetensors"
"$bin" diff fixtures/surgery/inputs/locon_a.safetensors "$work/extracted.safetensors" | sed -n '3,4p'
