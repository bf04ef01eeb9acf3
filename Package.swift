// swift-tools-version:6.0
import PackageDescription

// lorakit builds on 64-bit Linux (x86_64, aarch64) with OpenBLAS, LAPACKE, json-c and stb from
// Debian's packages (scripts/bootstrap.sh); it declares no Apple platform, and
// Sources/SystemIO/Platform.swift refuses to compile elsewhere. No target passes unsafe flags,
// so the LoRAKit library can be used as a versioned dependency.

let realModule: Target.Dependency = .product(name: "RealModule", package: "swift-numerics")
let argumentParser: Target.Dependency = .product(
    name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "lorakit",
    products: [
        .executable(name: "lorakit", targets: ["lorakit"]),
        .library(
            name: "LoRAKit",
            targets: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA",
                "Conversions", "Surgery", "Inspection", "Library", "TensorOps", "TrainingNumerics", "TinyXLModel",
                "TrainingIO", "Trainer", "Synthesis",
            ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // kohya's --config_file and --dataset_config are TOML: a maintained parser (toml++).
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C system libraries, each entered through one file (docs/architecture.md, "Where C
        // enters"). Debian: liblapacke-dev libopenblas-dev, libjson-c-dev, libstb-dev.
        .systemLibrary(
            name: "CLapack", pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev", "libopenblas-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        // Header-only: Linux calls glibc declares only under _GNU_SOURCE (copy_file_range).
        .systemLibrary(name: "CSystem"),
        .systemLibrary(name: "CStb", pkgConfig: "stb", providers: [.apt(["libstb-dev"])]),

        // The platform: system calls, JSON, the file format, linear algebra.
        .target(name: "SystemIO", dependencies: ["CSystem"]),
        .target(name: "JSON", dependencies: ["CJSONC"]),
        .target(
            name: "SafeTensors",
            dependencies: ["SystemIO", "JSON", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "LinearAlgebra", dependencies: ["CLapack", realModule]),

        // Model families as data, LoRA files, and the surgery commands' algorithms.
        .target(name: "ModelFamilies"),
        .target(
            name: "LoRA",
            dependencies: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", realModule,
            ]),
        // A LoRA rewritten between key namings (kohya, diffusers, ComfyUI, PEFT).
        .target(
            name: "Conversions",
            dependencies: ["SystemIO", "SafeTensors", "ModelFamilies", "LoRA"]),
        .target(
            name: "Surgery",
            dependencies: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA",
                "Conversions", realModule,
            ]),
        // Reading LoRAs without writing: `inspect`'s report and `diff`'s comparison.
        .target(
            name: "Inspection",
            dependencies: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA", "Conversions",
                "Surgery",
            ]),
        // Many LoRAs at once: a folder as rows, duplicate groups, hashes cached.
        .target(
            name: "Library",
            dependencies: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA", "Surgery",
                "Inspection",
            ]),

        // The trainer, in layers: kernels, the numerics of training, the model, data in and logs
        // out, then the loop that joins them.
        .target(name: "TensorOps", dependencies: ["SystemIO", "LinearAlgebra", realModule]),
        .target(name: "TrainingNumerics", dependencies: ["SystemIO", "LinearAlgebra", realModule]),
        .target(
            name: "TinyXLModel",
            dependencies: [
                "SystemIO", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA", "TensorOps",
                "TrainingNumerics",
            ]),
        .target(
            name: "TrainingIO",
            dependencies: [
                "SystemIO", "SafeTensors", "LinearAlgebra", "TensorOps", "TrainingNumerics", "CStb",
            ]),
        .target(
            name: "Trainer",
            dependencies: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA",
                "TrainingNumerics", "TinyXLModel", "TrainingIO",
            ]),

        // Generators of inputs for tests, benchmarks and pretraining: the procedural image world,
        // synthetic LoRAs and checkpoints. Nothing else depends on them but the tool.
        .target(
            name: "Synthesis",
            dependencies: [
                "SystemIO", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA", "TinyXLModel",
                "TrainingIO", "Trainer", realModule,
            ]),

        // The tool: one command per file, each parsing, calling one job and printing.
        .executableTarget(
            name: "lorakit",
            dependencies: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA",
                "Conversions", "Surgery", "Inspection", "Library", "TrainingNumerics", "TinyXLModel", "TrainingIO",
                "Trainer",
                "Synthesis", argumentParser, .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]),

        // make bench's timings that no command exposes (a training step); not part of swift test.
        .executableTarget(
            name: "lorakit-bench",
            dependencies: ["TinyXLModel", "TrainingNumerics", "LinearAlgebra", argumentParser],
            path: "Benchmarks/lorakit-bench"),

        // make faults: runs the built tool against bad files, arguments, faults and datasets.
        .executableTarget(
            name: "lorakit-faults",
            dependencies: ["SystemIO", "SafeTensors", "TrainingIO", argumentParser],
            path: "Faults/lorakit-faults"),

        // Tests: one target per module, shared helpers, and the tool run as a whole.
        .target(
            name: "TestSupport", dependencies: ["SafeTensors", "LinearAlgebra"],
            path: "Tests/TestSupport"),
        .target(
            name: "TrainerTestSupport",
            dependencies: [
                "TestSupport", "JSON", "SafeTensors", "LinearAlgebra", "TensorOps", "TrainingIO",
            ],
            path: "Tests/TrainerTestSupport"),
        .testTarget(name: "SystemIOTests", dependencies: ["SystemIO", "TestSupport"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(
            name: "SafeTensorsTests",
            dependencies: ["SafeTensors", "JSON", "SystemIO", "TestSupport"]
        ),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "TestSupport"]),
        .testTarget(
            name: "ModelFamiliesTests",
            dependencies: ["ModelFamilies", "LinearAlgebra", "TestSupport"]
        ),
        .testTarget(
            name: "LoRATests",
            dependencies: ["LoRA", "ModelFamilies", "LinearAlgebra", "SafeTensors", "SystemIO", "TestSupport"]),
        .testTarget(
            name: "SurgeryTests",
            dependencies: [
                "Surgery", "Inspection", "Conversions", "Synthesis", "LoRA", "ModelFamilies", "LinearAlgebra",
                "SafeTensors", "SystemIO", "TestSupport",
            ]),
        .testTarget(
            name: "LibraryTests",
            dependencies: [
                "Library", "Surgery", "Inspection", "Synthesis", "JSON", "LoRA", "SafeTensors", "SystemIO",
                "TestSupport",
            ]),
        .testTarget(
            name: "TensorOpsTests",
            dependencies: ["TensorOps", "LinearAlgebra", "TrainerTestSupport"]),
        .testTarget(
            name: "TrainingNumericsTests",
            dependencies: [
                "TrainingNumerics", "LinearAlgebra", "SafeTensors", "TestSupport",
                "TrainerTestSupport",
            ]),
        .testTarget(
            name: "TrainingIOTests",
            dependencies: [
                "TrainingIO", "TrainingNumerics", "LinearAlgebra", "SafeTensors", "SystemIO",
                "TestSupport", "TrainerTestSupport", realModule,
            ]),
        .testTarget(
            name: "TinyXLModelTests",
            dependencies: [
                "TinyXLModel", "TensorOps", "TrainingNumerics", "LoRA", "LinearAlgebra",
                "SafeTensors",
                "TestSupport", "TrainerTestSupport",
            ]),
        .testTarget(
            name: "TrainerTests",
            dependencies: [
                "Trainer", "TinyXLModel", "TrainingIO", "TrainingNumerics", "TensorOps", "LoRA",
                "Synthesis", "LinearAlgebra", "SafeTensors", "TestSupport",
            ]),
        .testTarget(
            name: "SynthesisTests",
            dependencies: [
                "Synthesis", "TrainingIO", "ModelFamilies", "LinearAlgebra", "SafeTensors",
                "TestSupport",
            ]),
        .testTarget(name: "CLITests", dependencies: ["lorakit", "SafeTensors", "TestSupport"]),
    ]
)
