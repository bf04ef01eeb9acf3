import ArgumentParser
import Library
import LoRA
import SystemIO
import SafeTensors
import Surgery

struct ChopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chop",
        abstract: "Keep, drop or re-weight the UNet or transformer blocks of a LoRA.",
        discussion: """
            VECTOR is a global weight followed by one weight per block of the file, in the order \
            `lorakit blocks` prints ("1,INP01,...,OUT08" for a full SDXL LoCon). A block with \
            weight 0 is removed; weight 1 is copied unchanged; any other weight w scales the \
            block's ΔW by global·w, linearly: one factor per module (alpha, or up when there is \
            no alpha). Text-encoder modules and keys outside the blocks pass through unchanged.

            Unlike chop_blocks.py, which multiplies alpha, down and up by w and so scales ΔW by \
            w³ (and also scales dora_scale), lorakit scales ΔW by exactly w and keeps dora_scale.

            The block-weight vectors of the SD web UIs' LoRA Block Weight work too: 12 or 20 \
            values for SDXL, 17 or 26 for SD1.x (BASE first, which weights the text encoders; M00 \
            is the whole middle block; blocks a short form does not name keep weight 1). When a \
            length fits both, the file's layout form is used; --block-weight-form picks the other.

            Flux LoRAs take hako-mikan's fixed 61-value vector (CLIP, T5, IN, D00-D18, S00-S37, \
            OUT), whose positions never move, and ComfyUI-Inspire-Pack's vector of the blocks the \
            file holds (a global weight, then one per present block), which lorakit maps by the \
            file's own blocks so a LoRA lacking blocks is not shifted (Inspire issue #191). The \
            output says which form was read. --keep takes labels and ranges (D07-D12,S00).

            Presets (--preset): double, single, likeness (single blocks 7, 12, 16, 20) for Flux; \
            input, middle, output for SD1.x/SDXL.

            The output keeps the input's key names, dtypes and metadata, adds block_vector_string \
            and recomputes sshs_model_hash and sshs_legacy_hash.

            Examples:
              lorakit chop my_lora.safetensors 1,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0
              lorakit chop my_lora.safetensors --keep OUT01 -o my_lora-out01.safetensors
              lorakit chop my_lora.safetensors --keep-strongest 2
              lorakit chop flux_lora.safetensors --keep D07-D12,S00
              lorakit chop flux_lora.safetensors --preset single
              lorakit chop my_lora.safetensors 1,1,1,1,1,0.5,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1
              lorakit chop ~/loras/sdxl --keep OUT01 -o ~/loras/out01/

            Several LoRAs or a folder (its .safetensors files) are chopped one by one, two at a \
            time, with the same selection: each output keeps its input's name with -chop added, \
            in -o DIR/ or next to its input; a file that fails is named in the summary and the \
            others go on (exit status 1).
            """)

    @Argument(
        help: """
            The LoRA file (or several files and folders), then the weights: global, then one per \
            block (see `lorakit blocks`), unless --keep, --keep-strongest or --preset is given.
            """)
    var arguments: [String]

    @Option(
        help:
            "Keep only these blocks, e.g. OUT01,OUT02 (INP04, MID01, M00 for the whole middle block)."
    )
    var keep: String?

    @Option(
        parsing: .unconditional,
        help:
            "Keep only the N blocks with the most ΔW energy (as `lorakit blocks --energy` ranks them)."
    )
    var keepStrongest: Int?

    @Option(help: "Keep a named block set: double, single, likeness (Flux); input, middle, output (SD1/SDXL).")
    var preset: String?

    @Option(
        name: .shortAndLong,
        help:
            "Output file, or folder for several inputs (default: <input>-chop.safetensors next to each input)."
    )
    var output: String?

    @Flag(help: "Also chop the LoRAs in the folders inside the folders given.")
    var recursive = false

    @Flag(name: .shortAndLong, help: "Print only failures and the summary.")
    var quiet = false

    @Flag(help: "Read a vector whose length fits both forms as a web-UI block-weight vector.")
    var blockWeightForm = false

    /// The weights vector: the last argument, when there are several and it names no file.
    private var vector: String? {
        guard arguments.count > 1, let last = arguments.last, !last.hasSuffix(".safetensors"),
            (try? FileStatus.of(path: last)) ?? nil == nil
        else { return nil }
        return last
    }

    private var loras: [String] { vector == nil ? arguments : Array(arguments.dropLast()) }

    func validate() throws {
        guard !arguments.isEmpty else { throw ValidationError("give a LoRA file") }
        guard [vector != nil, keep != nil, keepStrongest != nil, preset != nil].filter({ $0 }).count == 1
        else {
            throw ValidationError("give one of VECTOR, --keep BLOCKS, --keep-strongest N or --preset NAME")
        }
        if let keepStrongest, keepStrongest < 1 {
            throw ValidationError("--keep-strongest must be at least 1")
        }
    }

    func run() throws {
        let selection: ChopJob.Selection =
            if let keepStrongest { .strongest(keepStrongest) } else if let preset {
                .preset(preset)
            } else if let keep {
                .keep(keep)
            } else { .vector(vector!, preferBlockWeightForm: blockWeightForm) }
        try BatchCommand.run(
            loras, recursive: recursive, output: output, quiet: quiet, verb: "chopped",
            parallel: true
        ) { input, folder in
            let destination =
                folder.map { Batch.output(for: input, suffix: "-chop", folder: $0) } ?? output
            let result = try ChopJob(lora: input, selection: selection, output: destination).run()
            var lines: [String] = []
            if let form = result.vectorForm { lines.append("vector read as: \(form)") }
            if let strongest = result.strongest {
                lines.append("strongest: \(strongest.joined(separator: ", "))")
            }
            let s = result.summary
            lines.append(
                "\(result.path): kept \(s.keptModules) modules, scaled \(s.scaledModules), dropped \(s.droppedModules) (\(s.keptKeys) keys kept, \(s.droppedKeys) dropped)"
            )
            return lines.joined(separator: "\n")
        }
    }
}
