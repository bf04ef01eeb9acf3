import ArgumentParser
import JSON
import Library
import LinearAlgebra
import LoRA
import Logging
import ModelFamilies
import SafeTensors
import Surgery
import SystemIO

struct ResizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resize",
        abstract:
            "Shrink LoRAs by SVD: score recipes against the base checkpoint, or kohya's ranks.",
        discussion: """
            With -r, the first path is the base checkpoint and the others are LoRAs; each LoRA \
            module's ΔW is decomposed once (QR of up and downᵀ, SVD of the small core), every \
            singular direction scored, and the directions that score at least the threshold kept \
            (elias-gaeros/resize_lora's recipes):

              score_i = log10 s_i − Σ w·log10(reference), with the references
                spn_ckpt ‖W‖₂ of the base weight    fro_ckpt ‖W‖_F of the base weight
                spn_lora s_0 of the module         fro_lora ‖s‖₂ of the module
                subspace |u_iᵀ W v_i|                params  out + in·k·k
              thr=T  keep scores ≥ T (log10)       size=S  best scores until S MiB
              rescale=R  multiply kept values by R

            Several recipes separated by ':' share one decomposition. --norms TABLE (from \
            `lorakit norms`) replaces the checkpoint for every recipe but subspace, with the same \
            result. Base norms are cached in \
            $XDG_CACHE_HOME/lorakit (default ~/.cache/lorakit), keyed by the checkpoint's size, \
            modification time and header. Outputs are named \
            <lora>_<recipe>_th<threshold>.safetensors next to the input (or in -o DIR), as resize_lora names them. An input \
            written as a.safetensors:0.7,b.safetensors:0.3 is the weighted sum of those LoRAs \
            (ranks concatenated exactly) before resizing.

            Without -r, kohya's modes need no checkpoint: --rank N [--conv-rank M] keeps the top \
            N directions; --dynamic sv_ratio|sv_fro|sv_cumulative --param P picks each module's \
            rank (capped by --rank and --conv-rank). kohya's resize_lora.py keeps one direction \
            more than its criterion asks (it adds 1 after clamping, so never fewer than 2); \
            lorakit keeps the count itself, and --kohya-compat reproduces kohya's ranks.

            Every output keeps its modules' strength (alpha = alpha/rank · new rank), DoRA's \
            dora_scale and the tensors it cannot decompose (IA3, GLoRA, OFT) unchanged, and writes \
            Tucker (lora_mid) modules as plain LoCon with their 3x3 kernel (resize_lora drops \
            lora_mid and writes them as 1x1). LoHa and LoKr modules become LoRA modules of the same \
            ΔW (a full-matrix LoKr is decomposed from its Kronecker factors' SVDs). 1-D \
            differences (norm weights and biases: diff, diff_b, w_norm, b_norm) are kept unchanged. \
            Modules whose ΔW is zero are dropped with a warning. Metadata is kept, with \
            resize_params, ss_network_dim and ss_network_alpha updated and hashes recomputed.

            Outputs keep the input's naming (kohya, diffusers, ComfyUI or PEFT keys; other \
            namings are written in kohya's) unless --to asks for another. Flux.1 LoRAs resize \
            the same way against a Flux base (BFL or ComfyUI layout, fp8, bf16 or fp16, streamed) \
            or its norm table: diffusers' to_q, to_k, to_v and proj_mlp are measured against \
            their rows of the fused qkv and linear1 weights. The default dtype is bf16 for bf16 \
            inputs, else fp16.

            Examples:
              lorakit resize sdxl_base.safetensors my_lora.safetensors -r fro_ckpt=1,thr=-3.55
              lorakit resize base.safetensors a.safetensors -r 'fro_ckpt=1,thr=-3.55:spn_ckpt=1,size=4'
              lorakit resize --norms sdxl_base.norms.safetensors my_lora.safetensors -r fro_ckpt=1,thr=-3.55
              lorakit resize my_lora.safetensors --rank 4 --conv-rank 4
              lorakit resize my_lora.safetensors --dynamic sv_fro --param 0.9 --rank 16
              lorakit resize sdxl_base.safetensors ~/loras/sdxl -r fro_ckpt=1,thr=-3.55 -o small/

            A folder stands for its .safetensors files (--recursive: and its subfolders'). Many \
            LoRAs share one read of the base: its norms are measured once (and cached) for the \
            whole batch; then two LoRAs run at a time, each on both cores, within one resize's \
            memory, their lines in the inputs' order. A file \
            that fails is named in the summary and the others go on (exit status 1).
            """)

    @Argument(
        help: """
            With -r: CKPT then LoRAs; without: LoRAs. A folder stands for its LoRAs; a LoRA may \
            be a:w,b:w to merge first.
            """)
    var paths: [String]

    @Flag(help: "Also resize the LoRAs in the folders inside the folders given.")
    var recursive = false

    @Flag(name: .shortAndLong, help: "No warnings; only outputs, failures and the summary.")
    var quiet = false

    @Option(
        name: [.customShort("r"), .customLong("recipes")],
        help: "Score recipes, e.g. fro_ckpt=1,thr=-3.55 (several separated by ':').")
    var recipes: String?

    @Option(
        parsing: .unconditional,
        help: "kohya mode: keep this many directions (the cap in --dynamic mode).")
    var rank: Int?

    @Option(parsing: .unconditional, help: "kohya mode: rank of 3x3 convs (default: --rank).")
    var convRank: Int?

    @Option(help: "kohya mode: sv_ratio, sv_fro or sv_cumulative.")
    var dynamic: KohyaRankRule.Method?

    @Option(parsing: .unconditional, help: "Parameter of --dynamic (ratio, or retained fraction).")
    var param: Double?

    @Flag(help: "Reproduce kohya's dynamic ranks exactly (one more than the criterion).")
    var kohyaCompat = false

    @Option(name: .shortAndLong, help: "Output directory, or file when there is one output.")
    var output: String?

    @OptionGroup var storage: OutputDType

    @Option(help: "The outputs' naming: kohya, diffusers, comfy or peft (default: the input's).")
    var to: TargetNaming?

    @Flag(name: .shortAndLong, help: "-v: a summary per output; -vv: a line per module.")
    var verbose: Int

    @Flag(help: "Print a JSON summary of the outputs.")
    var json = false

    @Flag(help: "Neither read nor write the base-norm cache.")
    var noCache = false

    @Option(help: "With -r: score against this norm table (lorakit norms) instead of a checkpoint; every path is then a LoRA.")
    var norms: String?

    func validate() throws {
        if norms != nil, recipes == nil {
            throw ValidationError("--norms gives what -r recipes measure against; give -r too")
        }
        if recipes != nil {
            guard paths.count >= (norms == nil ? 2 : 1) else {
                throw ValidationError(
                    norms == nil
                        ? "with -r, give the base checkpoint then at least one LoRA"
                        : "give at least one LoRA")
            }
            guard rank == nil, convRank == nil, dynamic == nil else {
                throw ValidationError(
                    "-r and the kohya options (--rank, --conv-rank, --dynamic) are separate modes; use one"
                )
            }
        } else {
            guard !paths.isEmpty else { throw ValidationError("give at least one LoRA") }
            guard rank != nil || dynamic != nil else {
                throw ValidationError(
                    "give -r RECIPES (with a base checkpoint), or --rank N, or --dynamic METHOD --param P"
                )
            }
            if dynamic != nil {
                guard let param, param.isFinite, param > 0 else {
                    throw ValidationError("--dynamic needs --param, a positive number")
                }
                if dynamic != .svRatio {
                    guard param <= 1 else {
                        throw ValidationError(
                            "--param for \(dynamic!.rawValue) is a fraction in (0, 1]")
                    }
                }
            }
            if let rank { guard rank > 0 else { throw ValidationError("--rank must be positive") } }
            if let convRank {
                guard convRank > 0 else { throw ValidationError("--conv-rank must be positive") }
            }
        }
    }

    func run() throws {
        let logger = Logger(label: "lorakit.resize")
        let mode: ResizeJob.Mode
        var inputs = paths
        if let recipes, let norms {
            mode = .recipes(try ResizeRecipe.parseList(recipes), base: .normTable(norms))
        } else if let recipes {
            mode = .recipes(try ResizeRecipe.parseList(recipes), base: .checkpoint(paths[0]))
            inputs.removeFirst()
        } else {
            mode = .kohya(
                ResizeJob.KohyaResize(
                    rank: rank, convRank: convRank, method: dynamic, parameter: param,
                    kohyaCompatible: kohyaCompat))
        }
        // A folder stands for its LoRAs; a weighted sum (a:0.7,b:0.3) is one input.
        inputs = inputs.flatMap { input -> [String] in
            guard FileStatus.isDirectory(input) else { return [input] }
            let batch = Batch(arguments: [input], recursive: recursive)
            return batch.inputs + batch.missing.map(\.path)
        }
        guard !inputs.isEmpty else {
            throw ValidationError("no .safetensors files in \(paths.joined(separator: ", "))")
        }
        let job = ResizeJob(
            inputs: inputs, mode: mode, output: output, dtype: storage.type,
            useNormCache: !noCache, naming: to)
        var summaries: [JSONValue] = []
        var failures: [String] = []
        let progress = ProgressLine(label: "resize", unit: inputs.count > 1 ? "LoRAs" : "modules")
        defer { progress.finish() }
        try job.run(progress: { done, total in progress.update(UInt64(done), of: UInt64(total)) }) {
            event in
            switch event {
            case .warning(let message): if !quiet { logger.warning("\(message)") }
            case .failed(_, let message): failures.append(message)
            case .wrote(let summary) where json: summaries.append(summary.json())
            case .wrote(let summary):
                print(summary.line())
                if verbose >= 1 { print(summary.details(perModule: verbose >= 2), terminator: "") }
            }
        }
        if json { print(JSONValue.array(summaries).serialized(pretty: true)) }
        if inputs.count > 1 {
            for line in Batch.summary(failures: failures, of: inputs.count, noun: "LoRAs", verb: "resized") {
                Lorakit.printError(line)
            }
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}

extension KohyaRankRule.Method: ExpressibleByArgument {}
