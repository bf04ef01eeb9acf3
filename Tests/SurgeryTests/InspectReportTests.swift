import Foundation
import Inspection
import LoRA
import SafeTensors
import TestSupport
import Testing

@testable import Surgery

@Suite struct InspectReportTests {
    @Test func kohyaHashesAreRecomputedAndCompared() throws {
        let report = try InspectReport(path: Fixtures.path("surgery/inputs/lora_kohya.safetensors"))
        let verdicts = Dictionary(uniqueKeysWithValues: report.hashes.map { ($0.key, $0.verdict) })
        #expect(verdicts == ["sshs_model_hash": .matches, "sshs_legacy_hash": .matches])
        #expect(report.autoV2 == "880692ea80")
    }

    @Test func aTamperedHashIsFlagged() throws {
        let directory = TemporaryDirectory()
        var content = try TensorFile(
            reading: SafeTensorsFile(path: Fixtures.path("surgery/inputs/lora_kohya.safetensors")))
        content.metadata?["sshs_model_hash"] = String(repeating: "0", count: 64)
        let path = directory.file("tampered.safetensors")
        try SafeTensorsWriter.write(content, to: path)
        let report = try InspectReport(path: path)
        let model = try #require(report.hashes.first { $0.key == "sshs_model_hash" })
        #expect(model.verdict == .differs)
        #expect(report.text().contains("MISMATCH: stored 0000"))
    }

    @Test func lycorisHashIsNotComparedAsKohyas() throws {
        let report = try InspectReport(path: Fixtures.path("surgery/inputs/locon_a.safetensors"))
        #expect(report.hashes.first { $0.key == "sshs_model_hash" }?.verdict == .notComparable)
        #expect(report.hashes.first { $0.key == "sshs_legacy_hash" }?.verdict == .missing)
    }

    @Test func rankTableSplitsLinearFromConv() throws {
        let report = try InspectReport(
            path: Fixtures.path("surgery/inputs/locon_a.safetensors"),
            options: .init(computeHashes: false))
        #expect(report.rankTable.map(\.layer) == ["conv3x3", "linear"])
        #expect(report.rankTable.map(\.modules) == [38, 750])
        #expect(
            report.rankTable.allSatisfy {
                $0.rank == 8 && $0.alpha == 4 && $0.scale == 0.5 && !$0.alphaImplicit
            })
        #expect(report.format == "LoCon")
        #expect(report.hashes.isEmpty)
    }

    @Test func tagsAreSummedAcrossFoldersMostFrequentFirst() throws {
        let directory = TemporaryDirectory()
        var lora = SafeTensorsBuilder(metadata: [
            "ss_tag_frequency":
                #"{"10_a": {"1girl": 5, " solo": 2}, "1_b": {"1girl": 1, "smile": 3, "solo": 2}}"#,
            "ss_dataset_dirs": #"{"10_a": {"n_repeats": 10, "img_count": 5}}"#,
            "ss_learning_rate": "0.0003", "ss_optimizer": "SAVEUS",
        ])
        lora.lora("lora_unet_input_blocks_4_1_proj_in", out: 8, in: 8, rank: 2, alpha: 1)
        let path = directory.file("tags.safetensors")
        try lora.write(to: path)
        let report = try InspectReport(path: path)
        #expect(report.topTags.map(\.tag) == ["1girl", "solo", "smile"])
        #expect(report.topTags.map(\.count) == [6, 4, 3])
        #expect(report.training.datasetDirectories.first?.repeats == 10)
        let text = report.text()
        #expect(text.contains("Top tags      1girl (6), solo (4), smile (3)"))
        #expect(text.contains("optimizer      SAVEUS"))
    }

    @Test func formatNames() throws {
        for (file, format) in [
            ("lora_kohya", "LoRA"), ("dora", "LoCon (DoRA)"), ("loha", "LoHa"),
            ("peft_diffusers", "LoCon"),
        ] {
            let report = try InspectReport(
                path: Fixtures.path("surgery/inputs/\(file).safetensors"),
                options: .init(computeHashes: false))
            #expect(report.format == format, "\(file)")
        }
    }
}
