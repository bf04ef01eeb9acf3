import ArgumentParser
import SafeTensors
import Surgery

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a LoRA or checkpoint holds: format, ranks, alphas, metadata, hashes.",
        discussion: """
            For a LoRA: adapter kinds (LoRA/LoCon, Tucker, DoRA, LoHa, LoKr, ...), modules per \
            component, a rank/alpha table split into linear (network_dim) and conv (conv_dim) \
            layers, the training metadata kohya and LyCORIS store (ss_*, modelspec.*), the most \
            frequent training tags, and sshs_model_hash / sshs_legacy_hash recomputed and \
            compared with the stored values.

            For a base checkpoint: architecture and parameter counts from the header alone, so a \
            6 GiB file takes milliseconds (add --hash to hash it anyway).

            Examples:
              lorakit inspect my_lora.safetensors
              lorakit inspect my_lora.safetensors --keys
              lorakit inspect sdxl_base.safetensors --json | jq .parameters
            """)

    @Argument(help: "The .safetensors file to inspect.")
    var file: String

    @Flag(help: "List every tensor with its dtype and shape.")
    var keys = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(
        inversion: .prefixedNo, help: "Compute hashes (default: for LoRAs yes, for checkpoints no)."
    )
    var hash: Bool?

    @Option(parsing: .unconditional, help: "How many of the most frequent training tags to show.")
    var tags = 12

    func validate() throws {
        guard tags >= 0 else { throw ValidationError("--tags must be 0 or more, got \(tags)") }
    }

    func run() throws {
        let options = InspectReport.Options(listKeys: keys, computeHashes: hash, topTags: tags)
        let report = try InspectReport(path: file, options: options)
        print(
            json ? report.json().serialized(pretty: true) : report.text(),
            terminator: json ? "\n" : "")
    }
}
