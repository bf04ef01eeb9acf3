import Foundation
import LoRA
import ModelFamilies
import SafeTensors
import TestSupport
import Testing

/// The reference inputs of `reference/surgery/inputs` (README §2), read as adapters.
@Suite struct ReferenceInputTests {
    struct Expectation: Sendable, CustomStringConvertible {
        var file: String
        var kinds: [AdapterKind: Int]
        var keys: Int
        /// (layer, rank, alpha) -> modules
        var ranks: [String: Int]
        var form: KeyForm
        var description: String { file }
    }

    static let expectations: [Expectation] = [
        Expectation(
            file: "locon_a", kinds: [.lora: 788], keys: 2364,
            ranks: ["linear r8 a4": 750, "conv3x3 r8 a4": 38], form: .kohya),
        Expectation(
            file: "locon_b", kinds: [.lora: 788], keys: 2364,
            ranks: ["linear r4 a4": 750, "conv3x3 r4 a4": 38], form: .kohya),
        Expectation(
            file: "lora_kohya", kinds: [.lora: 168], keys: 504, ranks: ["linear r8 a8": 168],
            form: .kohya),
        Expectation(
            file: "locon_tucker", kinds: [.lora: 28, .tucker: 38], keys: 236,
            ranks: ["linear r8 a4": 28, "conv3x3 r8 a4": 38], form: .kohya),
        Expectation(
            file: "dora", kinds: [.dora: 66], keys: 264,
            ranks: ["linear r4 a2": 28, "conv3x3 r4 a2": 38], form: .kohya),
        Expectation(
            file: "loha", kinds: [.loha: 66], keys: 330,
            ranks: ["linear r2 a1": 28, "conv3x3 r2 a1": 38], form: .kohya),
        Expectation(
            file: "peft_diffusers", kinds: [.lora: 198], keys: 396,
            ranks: ["linear r2 a2": 160, "conv3x3 r2 a2": 38], form: .peft),
    ]

    @Test(arguments: expectations)
    func readsKindsRanksAlphasAndCounts(expected: Expectation) throws {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/\(expected.file).safetensors"))
        #expect(lora.architecture.architecture == .sdxl)
        #expect(lora.passThrough.isEmpty)
        #expect(lora.adapters.reduce(0) { $0 + $1.keyCount } == expected.keys)
        #expect(
            Dictionary(grouping: lora.adapters, by: \.kind).mapValues(\.count) == expected.kinds)
        let ranks = Dictionary(grouping: lora.adapters) { adapter in
            let layer = adapter.layer.usesConvDim ? "conv3x3" : "linear"
            return "\(layer) r\(adapter.rank ?? -1) a\(Int(adapter.alpha ?? -1))"
        }.mapValues(\.count)
        #expect(ranks == expected.ranks)
        #expect(Set(lora.adapters.map(\.form)) == [expected.form])
        #expect(lora.adapters.allSatisfy { $0.module.component == .unet })
    }

    @Test func peftAlphaIsImplicitAndNamesAreLDM() throws {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/peft_diffusers.safetensors"))
        #expect(lora.adapters.allSatisfy { $0.storedAlpha == nil && $0.scale == 1 })
        let op = try #require(lora.adapter(for: ModuleID(.unet, "input_blocks_3_0_op")))
        #expect(op.stem == "unet.down_blocks.0.downsamplers.0.conv")
        #expect(op.layer == .conv(kernel: 3))
        #expect(op.inFeatures == 32 * 9 && op.outFeatures == 32)
    }

    @Test func tuckerKernelComesFromTheMidCore() throws {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/locon_tucker.safetensors"))
        let module = try #require(
            lora.adapter(for: ModuleID(.unet, "input_blocks_1_0_in_layers_2")))
        #expect(module.kind == .tucker)
        #expect(module.layer == .conv(kernel: 3))
        #expect(module.rank == 8 && module.inFeatures == 32 * 9 && module.outFeatures == 32)
        #expect(module.scale == 0.5)
    }
}

/// Files whose modules contradict themselves fail with one clear line naming the module.
@Suite struct InconsistentLoRATests {
    func write(_ build: (inout SafeTensorsBuilder) -> Void) throws -> (TemporaryDirectory, String) {
        let directory = TemporaryDirectory()
        var lora = SafeTensorsBuilder()
        build(&lora)
        let path = directory.file("bad.safetensors")
        try lora.write(to: path)
        return (directory, path)
    }

    @Test func rankMismatch() throws {
        let (directory, path) = try write { lora in
            lora.add("lora_unet_a.lora_down.weight", Tensor(lora.random(8 * 16), shape: [8, 16]))
            lora.add("lora_unet_a.lora_up.weight", Tensor(lora.random(16 * 4), shape: [16, 4]))
        }
        _ = directory
        let error = #expect(throws: LoRAError.self) { try LoRAFile(path: path) }
        #expect(
            error?.description
                == "\(path): module lora_unet_a: lora_down has rank 8 but lora_up has rank 4")
    }

    @Test func convDownWithLinearUp() throws {
        let (directory, path) = try write { lora in
            lora.add(
                "lora_unet_a.lora_down.weight",
                Tensor(lora.random(4 * 16 * 9), shape: [4, 16, 3, 3]))
            lora.add("lora_unet_a.lora_up.weight", Tensor(lora.random(16 * 4), shape: [16, 4]))
        }
        _ = directory
        let error = #expect(throws: LoRAError.self) { try LoRAFile(path: path) }
        #expect(error?.description.contains("one is a conv, the other a linear") == true)
    }

    @Test func missingUp() throws {
        let (directory, path) = try write { lora in
            lora.add("lora_unet_a.lora_down.weight", Tensor(lora.random(4 * 16), shape: [4, 16]))
            lora.add("lora_unet_a.alpha", Tensor([4], shape: []))
        }
        _ = directory
        let error = #expect(throws: LoRAError.self) { try LoRAFile(path: path) }
        #expect(error?.description == "\(path): module lora_unet_a: has lora_down but no lora_up")
    }

    @Test func zeroRank() throws {
        let (directory, path) = try write { lora in
            lora.add("lora_unet_a.lora_down.weight", Tensor([], shape: [0, 16]))
            lora.add("lora_unet_a.lora_up.weight", Tensor([], shape: [16, 0]))
        }
        _ = directory
        let error = #expect(throws: LoRAError.self) { try LoRAFile(path: path) }
        #expect(error?.description == "\(path): module lora_unet_a: has rank 0")
    }

    @Test func alphaOfTheWrongShape() throws {
        let (directory, path) = try write { lora in
            lora.lora("lora_unet_a", out: 8, in: 8, rank: 2)
            lora.add("lora_unet_a.alpha", Tensor([1, 2, 3, 4], shape: [2, 2]))
        }
        _ = directory
        let error = #expect(throws: LoRAError.self) { try LoRAFile(path: path) }
        #expect(
            error?.description
                == "\(path): tensor \"lora_unet_a.alpha\" has shape [2, 2], expected a scalar alpha"
        )
    }

    @Test func alphaInAnyNumericDType() throws {
        for dtype in [DType.f32, .f16, .bf16, .f64] {
            let (directory, path) = try write { lora in
                lora.lora("lora_unet_a", out: 8, in: 8, rank: 2)
                lora.add("lora_unet_a.alpha", Tensor([Float(1)], shape: [], dtype: dtype))
            }
            _ = directory
            #expect(try LoRAFile(path: path).adapters[0].alpha == 1)
        }
        let (directory, path) = try write { lora in
            lora.lora("lora_unet_a", out: 8, in: 8, rank: 2)
            lora.add(
                "lora_unet_a.alpha",
                Tensor(dtype: .i64, shape: [1], bytes: [3, 0, 0, 0, 0, 0, 0, 0]))
        }
        _ = directory
        #expect(try LoRAFile(path: path).adapters[0].alpha == 3)
    }

    @Test func booleanAlphaIsRefused() throws {
        let (directory, path) = try write { lora in
            lora.lora("lora_unet_a", out: 8, in: 8, rank: 2)
            lora.add("lora_unet_a.alpha", Tensor(dtype: .bool, shape: [], bytes: [1]))
        }
        _ = directory
        let error = #expect(throws: LoRAError.self) { try LoRAFile(path: path) }
        #expect(
            error?.description
                == "\(path): tensor \"lora_unet_a.alpha\" is BOOL, which cannot hold an alpha")
    }

    /// NaN or infinite values make every product garbage: refused where they are read (alphas
    /// at load, factors when a command forms ΔW), naming the file, module and tensor.
    @Test func nonFiniteAlphaAndFactorsAreRefused() throws {
        let (alphaDirectory, alphaPath) = try write { lora in
            lora.lora("lora_unet_a", out: 8, in: 8, rank: 2)
            lora.add("lora_unet_a.alpha", Tensor([Float.nan], shape: []))
        }
        _ = alphaDirectory
        let alphaError = #expect(throws: LoRAError.self) { try LoRAFile(path: alphaPath) }
        #expect(
            alphaError?.description
                == "\(alphaPath): module lora_unet_a: tensor \"lora_unet_a.alpha\" holds NaN or infinite values"
        )
        for bad in [Float.nan, .infinity, -.infinity] {
            let (directory, path) = try write { lora in
                var down = lora.random(2 * 8)
                down[3] = bad
                lora.add("lora_unet_a.lora_down.weight", Tensor(down, shape: [2, 8]))
                lora.add("lora_unet_a.lora_up.weight", Tensor(lora.random(8 * 2), shape: [8, 2]))
            }
            _ = directory
            let file = try LoRAFile(path: path)
            let error = #expect(throws: LoRAError.self) { try file.delta(of: file.adapters[0]) }
            #expect(
                error
                    == .nonFinite(
                        path: path, module: "lora_unet_a", key: "lora_unet_a.lora_down.weight"))
        }
    }

    @Test func checkpointIsNotALoRA() throws {
        let (directory, path) = try write { lora in
            lora.add(
                "model.diffusion_model.input_blocks.0.0.weight",
                Tensor(lora.random(4 * 4 * 9), shape: [4, 4, 3, 3]))
        }
        _ = directory
        let error = #expect(throws: LoRAError.self) { try LoRAFile(path: path) }
        #expect(
            error?.description
                == "\(path): not a LoRA (no adapter tensors); it looks like a base checkpoint (model.diffusion_model.* tensors)"
        )
    }

    @Test func unknownTensorsPassThrough() throws {
        let (directory, path) = try write { lora in
            lora.lora("lora_unet_input_blocks_4_1_proj_in", out: 8, in: 8, rank: 2, alpha: 1)
            lora.add("emb_params", Tensor(lora.random(8), shape: [1, 8]))
            lora.add("lora_unet_orphan.alpha", Tensor([1], shape: []))
        }
        _ = directory
        let lora = try LoRAFile(path: path)
        #expect(lora.adapters.count == 1)
        #expect(lora.passThrough.map(\.name) == ["emb_params", "lora_unet_orphan.alpha"])
    }
}

@Suite struct ArchitectureTests {
    @Test(arguments: [
        (["lora_te2_text_model_encoder_layers_0_mlp_fc1"], Architecture.sdxl),
        (["lora_unet_output_blocks_11_1_proj_out"], .sd1or2),
        (["lora_unet_input_blocks_1_1_proj_in"], .sd1or2),
        (["lora_unet_down_blocks_3_resnets_0_conv1"], .sd1or2),
        (["lora_unet_input_blocks_7_1_transformer_blocks_9_attn1_to_q"], .sdxl),
        (["lora_unet_label_emb_0_0"], .sdxl),
        (["lora_unet_input_blocks_4_0_in_layers_2"], .unknown),
    ])
    func structureDecides(names: [String], expected: Architecture) {
        let modules = names.compactMap { KeyParser.parse($0 + ".alpha")?.module }
        #expect(Self.detect(modules).architecture == expected)
    }

    /// Detection from module names, with the in-features of linear modules.
    static func detect(
        _ modules: [ModuleID], linearInFeatures: [ModuleID: Int] = [:],
        metadata: [String: String]? = nil
    ) -> ArchitectureDetection {
        ArchitectureDetector.detect(
            lora: LoRAEvidence(
                modules: modules + linearInFeatures.keys, inFeatures: linearInFeatures,
                linearModules: Set(linearInFeatures.keys)),
            metadata: metadata)
    }

    @Test func metadataSplitsSD1FromSD2AndStructureBeatsMetadata() {
        let sd = [ModuleID(.unet, "output_blocks_11_1_proj_out")]
        #expect(
            Self.detect(sd, metadata: ["ss_base_model_version": "sd_v2"]).architecture == .sd2)
        let context = ModuleID(.unet, "output_blocks_11_1_transformer_blocks_0_attn2_to_k")
        #expect(Self.detect(sd, linearInFeatures: [context: 768]).architecture == .sd1)
        let xl = [ModuleID(.te2, "text_model_encoder_layers_0_mlp_fc1")]
        #expect(
            Self.detect(xl, metadata: ["ss_base_model_version": "sd_v1"]).architecture == .sdxl)
        #expect(
            Self.detect(
                [], metadata: ["modelspec.architecture": "stable-diffusion-xl-v1-base/lora"]
            ).architecture == .sdxl)
    }
}

/// GLoRA modules as LyCORIS ≥ 2 writes them (a2 `[r, in]`, a1 `[in, r]`, b2 `[r, in(, k, k)]`,
/// b1 `[out, r]`) report the rank they were trained with, not the input width.
@Suite struct GLoRAShapeTests {
    @Test func rankAndScaleComeFromTheSharedAxis() throws {
        let directory = TemporaryDirectory()
        var builder = SafeTensorsBuilder(metadata: ["ss_network_module": "lycoris.kohya"])
        func add(_ stem: String, _ name: String, _ shape: [Int]) {
            builder.add(
                "\(stem).\(name).weight",
                Tensor(builder.random(shape.reduce(1, *)), shape: shape, dtype: .f16))
        }
        let linear = "lora_unet_input_blocks_4_1_proj_in"
        add(linear, "a2", [8, 640])
        add(linear, "a1", [640, 8])
        add(linear, "b2", [8, 640])
        add(linear, "b1", [640, 8])
        builder.add(linear + ".alpha", Tensor([Float(4)], shape: [], dtype: .f16))
        let conv = "lora_unet_input_blocks_4_0_in_layers_2"
        add(conv, "a2", [8, 320, 1, 1])
        add(conv, "a1", [320, 8, 1, 1])
        add(conv, "b2", [8, 320, 3, 3])
        add(conv, "b1", [640, 8, 1, 1])
        builder.add(conv + ".alpha", Tensor([Float(4)], shape: [], dtype: .f16))
        let path = directory.file("glora.safetensors")
        try builder.write(to: path)
        let lora = try LoRAFile(path: path)
        #expect(lora.adapters.count == 2 && lora.adapters.allSatisfy { $0.kind == .glora })
        for adapter in lora.adapters {
            #expect(adapter.rank == 8 && adapter.scale == 0.5, "\(adapter.stem)")
        }
        let convAdapter = try #require(lora.adapters.first { $0.stem == conv })
        #expect(convAdapter.outFeatures == 640 && convAdapter.inFeatures == 320 * 9)
        #expect(convAdapter.layer == .conv(kernel: 3))
    }
}

/// A module lorakit cannot form a ΔW for is refused with the reason that applies: train_norm's
/// 1-D differences are not "a function of the base weight".
@Suite struct UnsupportedReasonTests {
    @Test func normDifferencesAreNotBlamedOnTheBaseWeight() throws {
        let directory = TemporaryDirectory()
        var builder = SafeTensorsBuilder(metadata: ["ss_network_module": "lycoris.kohya"])
        let stem = "lora_unet_input_blocks_4_0_in_layers_0"
        builder.add(stem + ".w_norm", Tensor(builder.random(320), shape: [320], dtype: .f16))
        builder.add(stem + ".b_norm", Tensor(builder.random(320), shape: [320], dtype: .f16))
        builder.lora("lora_unet_input_blocks_4_1_proj_in", out: 640, in: 640, rank: 4, alpha: 2)
        let path = directory.file("train-norm.safetensors")
        try builder.write(to: path)
        let lora = try LoRAFile(path: path)
        let norm = try #require(lora.adapters.first { $0.stem == stem })
        let error = #expect(throws: LoRAError.self) { try lora.delta(of: norm) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("1-D differences") && !text.contains("base weight"), "\(text)")
    }
}
