import Foundation
import LinearAlgebra
import ModelFamilies
import SafeTensors
import TestSupport
import Testing

@testable import Synthesis

/// `synth flux-checkpoint` at tiny widths: names, shapes and dtype of BFL's layout, byte-identical
/// rewrites, finite values that follow the splitmix rule; and the full-size file's table
/// (never written here: 11.9 GB).
@Suite struct SyntheticFluxCheckpointTests {
    static let dtypes = SyntheticFluxCheckpoint.supportedDTypes

    static func write(
        _ options: SyntheticFluxCheckpoint.Options, in directory: TemporaryDirectory,
        as name: String
    ) throws -> String {
        let path = directory.file(name)
        try SyntheticFluxCheckpoint(options).write(to: path)
        return path
    }

    @Test(arguments: dtypes)
    func smallCheckpointHasBFLNamesShapesAndDType(dtype: DType) throws {
        let directory = TemporaryDirectory()
        let options = SyntheticFluxCheckpoint.Options(dimensions: .tiny, dtype: dtype)
        let path = try Self.write(options, in: directory, as: "flux.safetensors")
        let file = try SafeTensorsFile(path: path)
        let expected = FluxBaseTensors(.tiny, variant: .dev).parameters
        #expect(file.tensors.count == expected.count)
        #expect(file.tensors.count == 16 + 24 * 2 + 8 * 3 + 4)
        for parameter in expected {
            let info = try #require(file.info(named: parameter.key), "\(parameter.key)")
            #expect(info.intShape == parameter.shape, "\(parameter.key)")
            #expect(info.dtype == dtype)
        }
        #expect(file.info(named: "double_blocks.1.txt_attn.qkv.weight")?.intShape == [192, 64])
        #expect(file.info(named: "single_blocks.2.linear1.weight")?.intShape == [448, 64])
        #expect(file.info(named: "single_blocks.2.linear2.weight")?.intShape == [64, 320])
        #expect(file.info(named: "single_blocks.0.norm.key_norm.scale")?.intShape == [32])
        #expect(file.info(named: "guidance_in.in_layer.weight")?.intShape == [64, 16])
        #expect(file.info(named: "final_layer.adaLN_modulation.1.weight")?.intShape == [128, 64])
        #expect(
            file.metadata?["modelspec.title"]
                == "lorakit synthetic Flux.1-dev base (reduced widths)")
    }

    @Test(arguments: dtypes)
    func writesAreByteIdentical(dtype: DType) throws {
        let directory = TemporaryDirectory()
        let options = SyntheticFluxCheckpoint.Options(dimensions: .tiny, dtype: dtype)
        let first = try Self.write(options, in: directory, as: "a.safetensors")
        let second = try Self.write(options, in: directory, as: "b.safetensors")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: first))
        #expect(bytes == (try Data(contentsOf: URL(fileURLWithPath: second))))
        #expect(UInt64(bytes.count) > SyntheticFluxCheckpoint(options).byteCount)
    }

    /// Every value decodes finite and equals the rule's Float32 value rounded to the dtype: a
    /// weight within ±1/sqrt(in), a norm scale near 1, a bias within ±0.05.
    @Test(arguments: dtypes)
    func valuesAreFiniteAndFollowTheRule(dtype: DType) throws {
        let directory = TemporaryDirectory()
        let options = SyntheticFluxCheckpoint.Options(dimensions: .tiny, dtype: dtype)
        let file = try SafeTensorsFile(
            path: try Self.write(options, in: directory, as: "flux.safetensors"))
        var sumOfSquares = 0.0
        var weights = 0
        for parameter in FluxBaseTensors(.tiny).parameters {
            let values = try file.floats(of: try file.requireInfo(named: parameter.key))
            #expect(values.allSatisfy { $0.isFinite }, "\(parameter.key)")
            let rule = SyntheticFluxCheckpoint.rule(for: parameter)
            var exact = [Float](repeating: 0, count: values.count)
            exact.withUnsafeMutableBufferPointer {
                DeterministicFill.fill(
                    $0, hash: DeterministicFill.fnv1a(parameter.key), from: 0, rule: rule)
            }
            let rounded = ElementCoding.encode(exact, as: dtype).withUnsafeBytes {
                ElementCoding.decodeFloats($0, dtype: dtype)
            }
            #expect(values == rounded, "\(parameter.key)")
            let bound: Float
            switch parameter.role {
            case .weight: bound = 1 / Float(parameter.shape[1]).squareRoot()
            case .bias: bound = 0.05
            case .normScale: bound = 1.1
            }
            // FP8 may round a value up by half a step (1/16 of it in E4M3, 1/8 in E5M2).
            #expect(values.allSatisfy { abs($0) <= bound * 1.125 }, "\(parameter.key)")
            if parameter.role == .normScale {
                #expect(values.allSatisfy { $0 >= 0.85 && $0 <= 1.15 }, "\(parameter.key)")
            }
            if parameter.role == .weight {
                // s/sqrt(in) has mean square 1/(3·in): rows of unit-order norm.
                sumOfSquares +=
                    values.reduce(0) { $0 + Double($1 * $1) } * Double(parameter.shape[1])
                weights += values.count
            }
        }
        let meanSquareTimesFanIn = sumOfSquares / Double(weights)
        #expect(abs(meanSquareTimesFanIn - 1.0 / 3) < 0.05, "\(meanSquareTimesFanIn)")
    }

    @Test func comfyPrefixKeepsTheValues() throws {
        let directory = TemporaryDirectory()
        let bare = try SafeTensorsFile(
            path: try Self.write(.init(dimensions: .tiny), in: directory, as: "bare.safetensors"))
        let comfy = try SafeTensorsFile(
            path: try Self.write(
                .init(dimensions: .tiny, comfyUIPrefix: true), in: directory,
                as: "comfy.safetensors"))
        #expect(comfy.tensors.count == bare.tensors.count)
        for info in bare.tensors {
            let prefixed = try comfy.requireInfo(named: "model.diffusion_model." + info.name)
            #expect(try comfy.bytes(of: prefixed) == (try bare.bytes(of: info)), "\(info.name)")
        }
    }

    @Test func schnellHasNoGuidanceEmbedding() throws {
        let directory = TemporaryDirectory()
        let file = try SafeTensorsFile(
            path: try Self.write(
                .init(dimensions: .tiny, variant: .schnell), in: directory, as: "s.safetensors"))
        #expect(file.tensors.count == FluxBaseTensors(.tiny, variant: .dev).parameters.count - 4)
        #expect(!file.tensors.contains { $0.name.hasPrefix("guidance_in.") })
        #expect(file.info(named: "time_in.in_layer.weight") != nil)
        #expect(file.metadata?["modelspec.title"]?.contains("Flux.1-schnell") == true)
    }

    @Test func sparseWritesZerosOfTheSameSize() throws {
        let directory = TemporaryDirectory()
        let options = SyntheticFluxCheckpoint.Options(dimensions: .tiny, dtype: .bf16, sparse: true)
        let path = try Self.write(options, in: directory, as: "sparse.safetensors")
        let dense = try Self.write(
            .init(dimensions: .tiny, dtype: .bf16), in: directory, as: "dense.safetensors")
        let file = try SafeTensorsFile(path: path)
        #expect(file.status.size == (try SafeTensorsFile(path: dense)).status.size)
        for info in file.tensors {
            #expect(try file.floats(of: info).allSatisfy { $0 == 0 }, "\(info.name)")
        }
    }

    /// The full-size file's table without writing it: 780 tensors, 11,901,408,320 bytes of FP8
    /// data (23.8 GB in BF16), largest tensor 21504 × 3072.
    @Test func fullSizeTable() {
        let dev = SyntheticFluxCheckpoint(.init())
        #expect(dev.entries.count == 780)
        #expect(dev.byteCount == 11_901_408_320)
        #expect(dev.entries.allSatisfy { $0.dtype == .f8E4M3 })
        #expect(SyntheticFluxCheckpoint(.init(dtype: .bf16)).byteCount == 23_802_816_640)
        #expect(dev.layout.largestElementCount == 21504 * 3072)
        let schnell = SyntheticFluxCheckpoint(.init(variant: .schnell, comfyUIPrefix: true))
        #expect(schnell.entries.count == 776)
        #expect(schnell.entries.allSatisfy { $0.name.hasPrefix("model.diffusion_model.") })
        #expect(schnell.byteCount == 11_901_408_320 - (256 * 3072 + 3072 + 3072 * 3072 + 3072))
    }
}
