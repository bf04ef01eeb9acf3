#!/usr/bin/env python3
"""Trims the Flux.1 reference files (../shared/reference/flux) to a few modules for fixtures/flux.

A trimmed .safetensors file holds exactly the tensors of the kept modules, each with its bytes,
dtype and shape unchanged, and the same __metadata__, written the way the reference writer lays a
file out (fixtures/safetensors/README.md section 4): tensors ordered by dtype (the writer's enum
order, descending) then by name byte-wise, offsets contiguous from 0, compact header JSON with
__metadata__ first and its keys sorted byte-wise (lorakit's rule for the reference's random
order), padded with spaces to a multiple of 8.

A module is kept when modules.tsv maps it, in any naming (kohya, diffusers/PEFT, ComfyUI), to one
of the kept BFL weights; a tensor whose module is not in modules.tsv is an error.

    trim-flux-reference.py all REFERENCE_DIR OUTPUT_DIR
        modules.tsv, blocks.tsv, README.md (as README.reference.md), six of the seven rank-2
        files (not OMITTED) and expected/sub_r2.dW_probes.json, trimmed; every trimmed file is
        then re-read against its source
    trim-flux-reference.py file MODULES_TSV INPUT OUTPUT [--keep BFL_MODULE ...]
    trim-flux-reference.py probes MODULES_TSV INPUT_JSON OUTPUT_JSON [--keep BFL_MODULE ...]

Python 3 standard library only.
"""
import argparse, json, os, shutil, struct, sys

# The BFL weights fixtures/flux keeps (without ".weight").
KEEP = [
    "double_blocks.0.img_attn.qkv",
    "double_blocks.0.img_attn.proj",
    "double_blocks.0.txt_attn.qkv",
    "single_blocks.0.linear1",
    "single_blocks.0.linear2",
]

INPUTS = [
    "kohya_sub_r2.safetensors",
    "kohya_splitqkv_sub_r2.safetensors",
    "diffusers_sub_r2.safetensors",
    "comfy_sub_r2.safetensors",
    "expected/kohya_sub_r2.to_diffusers.safetensors",
    "expected/comfy_sub_r2.to_kohya.safetensors",
]
# Left out to keep fixtures/ under its 25,000,000-byte budget: trimmed, it is 789,314 bytes, and
# its dW probes stay in sub_r2.dW_probes.json. Regenerate it alone with the `file` command.
OMITTED = ["expected/diffusers_sub_r2.to_kohya.safetensors"]
PROBES = "expected/sub_r2.dW_probes.json"
COPIED = [("modules.tsv", "modules.tsv"), ("blocks.tsv", "blocks.tsv"),
          ("README.md", "README.reference.md")]

# The reference writer's order (safetensors `Dtype` enum, descending), README section 4.1.
DTYPE_ORDER = ("U64 I64 F64 C64 F32 U32 I32 BF16 F16 U16 I16 F8_E5M2FNUZ F8_E4M3FNUZ F8_E8M0 "
               "F8_E4M3 F8_E5M2 I8 U8 F6_E3M2 F6_E2M3 F4 BOOL").split()
BITS = {"U64": 64, "I64": 64, "F64": 64, "C64": 64, "F32": 32, "U32": 32, "I32": 32,
        "BF16": 16, "F16": 16, "U16": 16, "I16": 16, "F8_E5M2FNUZ": 8, "F8_E4M3FNUZ": 8,
        "F8_E8M0": 8, "F8_E4M3": 8, "F8_E5M2": 8, "I8": 8, "U8": 8, "BOOL": 8,
        "F6_E3M2": 6, "F6_E2M3": 6, "F4": 4}
# How a LoRA tensor name ends after its module name (kohya, ComfyUI; diffusers/PEFT).
SUFFIXES = (".lora_down.weight", ".lora_up.weight", ".alpha", ".lora_A.weight", ".lora_B.weight")


def fail(message):
    sys.exit(f"trim-flux-reference: {message}")


def module_map(modules_tsv):
    """Every module name of modules.tsv, in every naming, to its BFL module."""
    with open(modules_tsv, encoding="utf-8") as f:
        lines = f.read().splitlines()
    columns = lines[0].split("\t")
    mapping = {}
    for line in lines[1:]:
        row = dict(zip(columns, line.split("\t")))
        bfl = row["bfl_weight"].removesuffix(".weight")
        # diffusers_peft: "name[a:b];name[a:b]" (a row slice of the BFL weight) or a bare name.
        diffusers = [part.split("[")[0] for part in row["diffusers_peft"].split(";") if part]
        for name in [row["kohya"], row["comfy"], *diffusers]:
            if mapping.setdefault(name, bfl) != bfl:
                fail(f"{modules_tsv}: {name} maps to both {mapping[name]} and {bfl}")
    return mapping


def module_of(tensor_name):
    for suffix in SUFFIXES:
        if tensor_name.endswith(suffix):
            return tensor_name[: -len(suffix)]
    fail(f"tensor {tensor_name!r} has no LoRA suffix ({', '.join(SUFFIXES)})")


def kept(name, mapping, keep, source):
    if name not in mapping:
        fail(f"{source}: module {name!r} is not in modules.tsv")
    return mapping[name] in keep


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        fail(f"duplicate key in a header object: {keys}")
    return dict(pairs)


def read_safetensors(path):
    """(metadata or None, {name: (dtype, shape, bytes)}), checking the layout strictly."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        fail(f"{path}: shorter than 8 bytes")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        fail(f"{path}: header length {n} exceeds the file")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    metadata = header.pop("__metadata__", None)
    data = raw[8 + n :]
    tensors, start = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        begin, end = info["data_offsets"]
        count = 1
        for dim in info["shape"]:
            count *= dim
        if begin != start or end - begin != count * BITS[info["dtype"]] // 8:
            fail(f"{path}: tensor {name!r} has offsets [{begin}, {end}]")
        tensors[name] = (info["dtype"], info["shape"], data[begin:end])
        start = end
    if start != len(data):
        fail(f"{path}: data section is {len(data)} bytes, tensors cover {start}")
    return metadata, tensors


def serialize(metadata, tensors):
    """The reference writer's bytes for these tensors and metadata (README section 4)."""
    def string(s):
        # json.dumps escapes exactly as serde_json does when ensure_ascii is off: \" \\ \b \f
        # \n \r \t, other controls as \u00xx; "/" and non-ASCII raw.
        return json.dumps(s, ensure_ascii=False)

    order = sorted(tensors, key=lambda name: (DTYPE_ORDER.index(tensors[name][0]),
                                              name.encode("utf-8")))
    entries, chunks, offset = [], [], 0
    if metadata is not None:
        items = sorted(metadata.items(), key=lambda kv: kv[0].encode("utf-8"))
        entries.append('"__metadata__":{'
                       + ",".join(f"{string(k)}:{string(v)}" for k, v in items) + "}")
    for name in order:
        dtype, shape, data = tensors[name]
        entries.append(f'{string(name)}:{{"dtype":"{dtype}","shape":[{",".join(map(str, shape))}],'
                       f'"data_offsets":[{offset},{offset + len(data)}]}}')
        chunks.append(data)
        offset += len(data)
    header = ("{" + ",".join(entries) + "}").encode("utf-8")
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(chunks)


def write_atomically(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


def trim_file(mapping, keep, source, destination):
    metadata, tensors = read_safetensors(source)
    subset = {name: t for name, t in tensors.items()
              if kept(module_of(name), mapping, keep, source)}
    missing = set(keep) - {mapping[module_of(name)] for name in subset}
    if missing:
        fail(f"{source}: no tensor of {sorted(missing)}")
    write_atomically(destination, serialize(metadata, subset))
    return len(subset), len(tensors)


def trim_probes(mapping, keep, source, destination):
    with open(source, encoding="utf-8") as f:
        probes = json.load(f, object_pairs_hook=no_duplicates)
    trimmed = {file: {module: values for module, values in modules.items()
                      if kept(module, mapping, keep, source)}
               for file, modules in probes.items()}
    # The reference file's own format: json.dumps(indent=0), no final newline.
    write_atomically(destination, json.dumps(trimmed, indent=0).encode("utf-8"))


def verify(mapping, keep, source, destination):
    """The trimmed file re-read: exactly the kept tensors, byte for byte, and the same metadata."""
    metadata, tensors = read_safetensors(source)
    trimmed_metadata, trimmed = read_safetensors(destination)
    expected = {name for name in tensors if mapping[module_of(name)] in keep}
    if set(trimmed) != expected:
        fail(f"{destination}: tensors {sorted(set(trimmed) ^ expected)} differ from {source}")
    for name in expected:
        if trimmed[name] != tensors[name]:
            fail(f"{destination}: tensor {name!r} differs from {source}")
    if trimmed_metadata != metadata:
        fail(f"{destination}: metadata differs from {source}")


def run_all(reference, output):
    mapping = module_map(os.path.join(reference, "modules.tsv"))
    for name, copy in COPIED:
        os.makedirs(output, exist_ok=True)
        shutil.copyfile(os.path.join(reference, name), os.path.join(output, copy))
    for name in INPUTS:
        source, destination = os.path.join(reference, name), os.path.join(output, name)
        count, total = trim_file(mapping, KEEP, source, destination)
        verify(mapping, KEEP, source, destination)
        print(f"{destination}: {count} of {total} tensors, {os.path.getsize(destination)} bytes")
    trim_probes(mapping, KEEP, os.path.join(reference, PROBES), os.path.join(output, PROBES))
    print(f"{os.path.join(output, PROBES)}: {os.path.getsize(os.path.join(output, PROBES))} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    everything = commands.add_parser("all", help="make fixtures/flux from the reference folder")
    everything.add_argument("reference")
    everything.add_argument("output")
    for command in ("file", "probes"):
        one = commands.add_parser(command, help=f"trim one {command}")
        one.add_argument("modules_tsv")
        one.add_argument("input")
        one.add_argument("output")
        one.add_argument("--keep", action="append", metavar="BFL_MODULE",
                         help="a BFL module to keep (repeatable; default: the fixtures' five)")
    args = parser.parse_args()
    if args.command == "all":
        run_all(args.reference, args.output)
        return
    mapping, keep = module_map(args.modules_tsv), args.keep or KEEP
    if args.command == "file":
        count, total = trim_file(mapping, keep, args.input, args.output)
        verify(mapping, keep, args.input, args.output)
        print(f"{args.output}: {count} of {total} tensors")
    else:
        trim_probes(mapping, keep, args.input, args.output)


if __name__ == "__main__":
    main()
