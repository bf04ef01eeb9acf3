import Foundation
import SafeTensors
import TestSupport
import Testing

/// fixtures/flux: the Flux.1 reference files trimmed to five BFL modules
/// (`scripts/trim-flux-reference.py`, `fixtures/flux/README.md`).
@Suite struct FluxFixtureTests {
    /// The BFL weights the fixtures keep.
    static let kept: Set = [
        "double_blocks.0.img_attn.qkv.weight", "double_blocks.0.img_attn.proj.weight",
        "double_blocks.0.txt_attn.qkv.weight", "single_blocks.0.linear1.weight",
        "single_blocks.0.linear2.weight",
    ]

    /// The rows of modules.tsv, column name to cell: one per LoRA target, in every naming.
    static let modules: [[String: String]] = {
        let path = Fixtures.path("flux/modules.tsv")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n").map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(lines[0], $0)) }
    }()

    /// How a naming spells a module: its modules.tsv column and the tensors each module holds.
    enum Naming: String, Sendable {
        case kohya, diffusers, comfy

        var suffixes: [String] {
            switch self {
            case .kohya: [".alpha", ".lora_down.weight", ".lora_up.weight"]
            case .diffusers: [".lora_A.weight", ".lora_B.weight"]
            case .comfy: [".lora_down.weight", ".lora_up.weight"]
            }
        }

        /// The kept modules in this naming (a diffusers cell lists row slices,
        /// `name[a:b];name[a:b]`).
        var keptModules: Set<String> {
            let column = self == .diffusers ? "diffusers_peft" : rawValue
            let rows = modules.filter { kept.contains($0["bfl_weight"] ?? "") }
            return Set(
                rows.flatMap { row in
                    (row[column] ?? "").split(separator: ";").map {
                        String($0.prefix { $0 != "[" })
                    }
                })
        }
    }

    /// Each trimmed file, its naming, and whether its reference file has metadata.
    static let files: [(path: String, naming: Naming, hasMetadata: Bool)] = [
        ("kohya_sub_r2.safetensors", .kohya, true),
        ("kohya_splitqkv_sub_r2.safetensors", .kohya, true),
        ("diffusers_sub_r2.safetensors", .diffusers, true),
        ("comfy_sub_r2.safetensors", .comfy, false),
        ("expected/kohya_sub_r2.to_diffusers.safetensors", .diffusers, true),
        ("expected/comfy_sub_r2.to_kohya.safetensors", .kohya, false),
    ]

    @Test func keptModulesInEachNaming() {
        #expect(Self.modules.count == 314)
        #expect(Naming.kohya.keptModules.count == 5)
        #expect(Naming.diffusers.keptModules.count == 12)
        #expect(Naming.comfy.keptModules.count == 5)
    }

    @Test(arguments: files.indices)
    func trimmedFileHoldsExactlyTheKeptModules(index: Int) throws {
        let (path, naming, hasMetadata) = Self.files[index]
        let file = try SafeTensorsFile(path: Fixtures.path("flux/" + path))
        let expected = naming.keptModules.flatMap { module in
            naming.suffixes.map { module + $0 }
        }
        #expect(file.tensors.map(\.name).sorted() == expected.sorted(), "\(path)")
        if hasMetadata {
            // The reference file's 32 keys, kohya's among them (hashes of the untrimmed file).
            #expect(file.metadata?.count == 32, "\(path)")
            #expect(file.metadata?["ss_network_module"] == "networks.lora_flux", "\(path)")
            #expect(file.metadata?["sshs_model_hash"] != nil, "\(path)")
        } else {
            #expect(file.metadata == nil, "\(path)")
        }
        // Laid out as lorakit's writer (the reference layout, metadata keys sorted) writes it.
        #expect(
            try SafeTensorsWriter.serialize(TensorFile(reading: file))
                == [UInt8](Fixtures.data("flux/" + path)), "\(path)")
    }

    @Test func probesListTheKeptModulesOfEveryReferenceFile() throws {
        let probes = try #require(
            Fixtures.json("flux/expected/sub_r2.dW_probes.json") as? [String: [String: Any]])
        let namings: [String: Naming] = [
            "kohya_sub_r2.safetensors": .kohya, "kohya_splitqkv_sub_r2.safetensors": .kohya,
            "diffusers_sub_r2.safetensors": .diffusers, "comfy_sub_r2.safetensors": .comfy,
            "expected/kohya_sub_r2.to_diffusers.safetensors": .diffusers,
            "expected/diffusers_sub_r2.to_kohya.safetensors": .kohya,
            "expected/comfy_sub_r2.to_kohya.safetensors": .kohya,
        ]
        #expect(Set(probes.keys) == Set(namings.keys))
        for (file, modules) in probes {
            let naming = try #require(namings[file], "\(file)")
            #expect(Set(modules.keys) == naming.keptModules, "\(file)")
        }
    }
}
