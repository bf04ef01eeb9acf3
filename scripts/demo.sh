#!/usr/bin/env bash
# make demo: the main job on the bundled defaults. Trains an 80-step LoCon of the shipped concept
# ("zorblat") on the shipped TinyXL base with the seed's settings scaled to TinyXL, then does to
# the result what the seed's guide does to a fresh LoRA: inspect, blocks, resize, chop, diff, and
# checks that it learned (eval on held-out images, samples with and without it).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/lorakit
base=models/tinyxl-base.safetensors
data=fixtures/datasets/zorblat
work=${LORAKIT_DEMO_DIR:-.build/demo}
rm -rf "$work"
mkdir -p "$work"
start=$(date +%s)

echo "== lorakit train: the seed's kohya command, scaled to TinyXL (80 steps)"
"$bin" train \
    --pretrained_model_name_or_path="$base" \
    --train_data_dir="$data/train" \
    --resolution="32,32" \
    --output_dir="$work" \
    --output_name="zorblat-locon" \
    --enable_bucket --min_bucket_reso=16 --max_bucket_reso=64 --bucket_reso_steps=8 \
    --network_alpha=4 \
    --save_model_as="safetensors" \
    --network_module="lycoris.kohya" \
    --network_args "preset=full" "conv_dim=32" "conv_alpha=4" "rank_dropout=0" \
        "module_dropout=0" "use_tucker=False" "use_scalar=False" "rank_dropout_scale=False" \
        "algo=locon" "dora_wd=False" "train_norm=False" \
    --network_dropout=0 \
    --lr_scheduler="cosine" --lr_scheduler_args="num_cycles=0.375" \
    --learning_rate=0.003 --unet_lr=0.003 --text_encoder_lr=0.0001 \
    --network_dim=8 \
    --no_half_vae --flip_aug \
    --save_every_n_steps=20 \
    --mixed_precision="bf16" --save_precision="fp16" \
    --cache_latents --cache_latents_to_disk \
    --optimizer_type=SAVEUS --max_grad_norm=1 --max_data_loader_n_workers=8 \
    --multires_noise_iterations=12 --multires_noise_discount=0.4 \
    --log_prefix=xl-locon --log_with=tensorboard --logging_dir="$work/logs" \
    --gradient_accumulation_steps=1 --gradient_checkpointing \
    --train_batch_size=8 --dataset_repeats=1 --shuffle_caption --keep_tokens=1 \
    --max_train_steps=80 --sdpa --caption_extension=".txt" \
    --sample_prompts="$data/sample-prompts.txt" --sample_sampler="euler_a" \
    --sample_every_n_steps=20
lora="$work/zorblat-locon.safetensors"
trained=$(date +%s)
echo
echo "== lorakit inspect"
"$bin" inspect "$lora"
echo
echo "== lorakit blocks --energy: where the LoCon's weight difference lives"
"$bin" blocks --energy "$lora"
echo
echo "== lorakit resize -r fro_ckpt=1,thr=-3.55 against the base (the seed's recipe)"
"$bin" resize "$base" "$lora" -r 'fro_ckpt=1,thr=-3.55' -o "$work/zorblat-resized.safetensors" -v
echo
echo "== lorakit chop: keep the strongest block"
"$bin" chop "$lora" --keep-strongest 1 -o "$work/zorblat-strongest.safetensors"
echo
echo "== lorakit diff: the resized LoRA against the trained one"
"$bin" diff "$lora" "$work/zorblat-resized.safetensors" | head -6
echo
echo "== lorakit eval: held-out images of the concept, base alone and with the LoRA"
"$bin" eval "$base" "$lora" --data "$data/heldout" --resolution 32 | tee "$work/eval.txt"
change=$(sed -n 's/^change *//p' "$work/eval.txt" | tr -d '%+')
if awk -v c="$change" 'BEGIN { exit !(c <= -10) }'; then
    echo "eval: the LoRA lowers the held-out loss by ${change#-}% (aim: at least 10%)"
else
    echo "eval: the LoRA changed the held-out loss by $change% (aim: at least -10%)" >&2
    exit 1
fi
echo
echo "== lorakit sample: the trigger word, without and with the LoRA"
"$bin" sample "$base" --prompt "zorblat, blue background" --cfg 5 --seed 3 -o "$work/zorblat-base.png"
"$bin" sample "$base" "$lora" --prompt "zorblat, blue background" --cfg 5 --seed 3 -o "$work/zorblat-lora.png"
end=$(date +%s)
echo
echo "samples during training: $work/sample/ (grids: *_grid.png); TensorBoard logs: $work/logs"
echo "demo: training $((trained - start)) s, whole demo $((end - start)) s"
