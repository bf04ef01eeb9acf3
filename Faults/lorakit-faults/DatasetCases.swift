import Foundation
import TrainingIO

/// Bad training data: images that are not images, images too large to decode, odd shapes,
/// captions that are not text, and sample-prompt files with bad options.
enum DatasetCases {
    static func all() -> [FaultCase] {
        images() + [caption(), prompts(), evalData()]
    }

    /// A copy of the shared dataset in `work/<name>/1_thing` with `extra` files added; returns
    /// the dataset folder and the image folder.
    static func dataset(_ lab: Lab, _ name: String) throws -> (root: String, images: String) {
        let root = "work/" + name
        try? FileManager.default.removeItem(atPath: lab.path(root))
        try FileManager.default.createDirectory(
            atPath: lab.path(root), withIntermediateDirectories: true)
        let source = try FileManager.default.contentsOfDirectory(
            atPath: lab.path(lab.inputs.dataset)
        )
        .first { $0.hasSuffix("_thing") }!
        try FileManager.default.copyItem(
            atPath: lab.path(lab.inputs.dataset + "/" + source), toPath: lab.path(root + "/1_thing")
        )
        return (root, root + "/1_thing")
    }

    static func train(_ lab: Lab, _ data: String, extra: [String] = []) -> [String] {
        [
            "train", "--pretrained_model_name_or_path", lab.inputs.base, "--train_data_dir", data,
            "--output_dir", "out/t", "--output_name", "run", "--resolution", "32",
            "--network_dim", "4", "--train_batch_size", "1", "--max_train_steps", "1",
            "--enable_bucket", "--min_bucket_reso", "16", "--max_bucket_reso", "64",
            "--bucket_reso_steps", "8", "--caption_extension", ".txt",
        ] + extra
    }

    static func write(_ bytes: [UInt8], _ lab: Lab, _ path: String) {
        let created = FileManager.default.createFile(atPath: lab.path(path), contents: Data(bytes))
        precondition(created, "the fault suite cannot write \(lab.path(path))")
    }

    /// A PNG whose header claims `width`×`height` but holds one pixel's data.
    static func bomb(width: UInt32, height: UInt32) -> [UInt8] {
        var png = ImageCodec.encodePNG(RGBImage(width: 1, height: 1))
        // Signature (8), IHDR length (4), "IHDR" (4), then width and height, big-endian.
        for (offset, value) in [(16, width), (20, height)] {
            for byte in 0..<4 {
                png[offset + byte] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(byte)))
            }
        }
        let crc = CRC32.checksum(png[12..<29])
        for byte in 0..<4 {
            png[29 + byte] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(byte)))
        }
        return png
    }

    static func images() -> [FaultCase] {
        let rows: [(String, String, String, (Lab) -> [UInt8])] = [
            ("zero-byte image", "empty.png", "exit 1, names the image", { _ in [] }),
            (
                "corrupt image", "corrupt.png", "exit 1, names the image",
                { _ in
                    Array(ImageCodec.encodePNG(RGBImage(width: 8, height: 8)).prefix(40))
                        + [UInt8](repeating: 0x5a, count: 64)
                }
            ),
            (
                "text file named .png", "text.png", "exit 1, names the image",
                { _ in Array("not an image\n".utf8) }
            ),
            (
                "decompression bomb (60000×60000 PNG)", "bomb.png",
                "exit 1 before decoding, names the image",
                { _ in
                    bomb(width: 60_000, height: 60_000)
                }
            ),
            (
                "bomb within each side (16384×16384)", "wide-bomb.png",
                "exit 1 before decoding, names the image",
                { _ in
                    bomb(width: 16_384, height: 16_384)
                }
            ),
        ]
        var cases = rows.map { name, file, expected, bytes in
            FaultCase(group: .datasets, name: name, expected: expected) { lab in
                let (root, images) = try dataset(lab, "image-" + file)
                write(bytes(lab), lab, images + "/" + file)
                write(
                    Array("thing\n".utf8), lab,
                    images + "/" + file.replacingOccurrences(of: ".png", with: ".txt"))
                let started = Date()
                var outcome = Outcome.all([
                    lab.refuses(train(lab, root), naming: [file]),
                    lab.refuses(
                        ["eval", lab.inputs.base, "--data", root, "--resolution", "32"],
                        naming: [file]),
                ])
                let seconds = Date().timeIntervalSince(started)
                if seconds > 20 { outcome.problems.append("took \(Int(seconds)) s: decoded?") }
                return outcome
            }
        }
        cases.append(
            FaultCase(
                group: .datasets, name: "unreadable image (mode 000)",
                expected: "exit 1, names the image"
            ) { lab in
                let (root, images) = try dataset(lab, "unreadable")
                let image = try FileManager.default.contentsOfDirectory(atPath: lab.path(images))
                    .filter { $0.hasSuffix(".png") }.sorted()[0]
                chmod(lab.path(images + "/" + image), 0)
                defer { chmod(lab.path(images + "/" + image), 0o644) }
                return lab.refuses(train(lab, root), naming: [image]) { $0.unprivileged = true }
            })
        cases.append(
            trains(
                "large image (3000×2000)", expected: "exit 0: resized to its bucket",
                images: [("large", 3000, 2000)]))
        cases.append(
            trains(
                "extreme aspect ratios (1024×4, 4×1024, 1×1)",
                expected: "exit 0: each goes to the nearest bucket",
                images: [("wide", 1024, 4), ("tall", 4, 1024), ("dot", 1, 1)]))
        return cases
    }

    /// Training succeeds on the shared dataset plus flat images of these sizes, each captioned.
    static func trains(
        _ name: String, expected: String, images extra: [(name: String, width: Int, height: Int)]
    ) -> FaultCase {
        FaultCase(group: .datasets, name: name, expected: expected) { lab in
            let (root, images) = try dataset(lab, extra[0].name)
            for (name, width, height) in extra {
                try ImageCodec.writePNG(
                    RGBImage(width: width, height: height, fill: (200, 40, 40)),
                    to: lab.path(images + "/\(name).png"))
                write(Array("thing, \(name)\n".utf8), lab, images + "/\(name).txt")
            }
            let outcome = lab.succeeds(train(lab, root), creates: ["out/t/run.safetensors"])
            try? FileManager.default.removeItem(atPath: lab.path("out/t"))
            return outcome
        }
    }

    static func caption() -> FaultCase {
        FaultCase(
            group: .datasets, name: "caption that is not UTF-8",
            expected: "exit 1, names the caption"
        ) { lab in
            let (root, images) = try dataset(lab, "caption")
            let image = try FileManager.default.contentsOfDirectory(atPath: lab.path(images))
                .filter { $0.hasSuffix(".png") }.sorted()[0]
            let caption = images + "/" + image.replacingOccurrences(of: ".png", with: ".txt")
            write([0x74, 0x68, 0x69, 0x6e, 0x67, 0x2c, 0x20, 0xff, 0xfe, 0x0a], lab, caption)
            let name = URL(fileURLWithPath: caption).lastPathComponent
            return lab.refuses(train(lab, root), naming: [name])
        }
    }

    static func prompts() -> FaultCase {
        let files: [(String, String, String)] = [
            ("unknown option", "a cat --w 32\na dog --zz 3\n", ":2"),
            ("size not a multiple of 4", "a cat --w 30\n", ":1"),
            ("steps 1e999", "a cat --s 1e999\n", ":1"),
            ("seed -1", "a cat --d -1\n", ":1"),
            ("cfg nan", "a cat --l nan\n", ":1"),
            ("option without value", "a cat --n\n", ":1"),
        ]
        return FaultCase(
            group: .datasets, name: "prompt files with bad options (6 kinds, and not UTF-8)",
            expected: "exit 1, names file:line"
        ) { lab in
            try FileManager.default.createDirectory(
                atPath: lab.path("work/prompts"), withIntermediateDirectories: true)
            var outcomes: [Outcome] = []
            for (index, (_, text, line)) in files.enumerated() {
                let path = "work/prompts/bad-\(index).txt"
                write(Array(text.utf8), lab, path)
                outcomes.append(
                    lab.refuses(
                        train(lab, lab.inputs.dataset, extra: ["--sample_prompts", path]),
                        naming: [path + line]))
            }
            write([0x61, 0x20, 0xc3, 0x28, 0x0a], lab, "work/prompts/latin.txt")
            outcomes.append(
                lab.refuses(
                    train(
                        lab, lab.inputs.dataset,
                        extra: ["--sample_prompts", "work/prompts/latin.txt"]),
                    naming: ["work/prompts/latin.txt"]))
            return .all(outcomes)
        }
    }

    static func evalData() -> FaultCase {
        FaultCase(
            group: .datasets, name: "data folder without images",
            expected: "exit 1, names the folder"
        ) { lab in
            try FileManager.default.createDirectory(
                atPath: lab.path("work/empty/1_none"), withIntermediateDirectories: true)
            return .all([
                lab.refuses(train(lab, "work/empty"), naming: ["work/empty"]),
                lab.refuses(
                    ["eval", lab.inputs.base, "--data", "work/empty", "--resolution", "32"],
                    naming: ["work/empty"]),
            ])
        }
    }
}

/// CRC-32 (ISO-HDLC, as PNG chunks use), for the hand-made bomb's header.
enum CRC32 {
    static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }
}
