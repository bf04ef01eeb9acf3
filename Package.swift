// swift-tools-version:6.0
import PackageDescription

// Generic matrix and tensor code is called across module boundaries in hot loops; without
// cross-module optimization it runs through value witnesses instead of being specialized.
let optimized: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
// The trainer's kernels are SIMD code that runs 20-50x slower unoptimised: its oracle tests would
// take minutes in a debug `swift test`, so it is optimised in debug builds too.
let alwaysOptimized: [SwiftSetting] = optimized + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let realModule: Target.Dependency = .product(name: "RealModule", package: "swift-numerics")

let package = Package(
    name: "lorakit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lorakit", targets: ["lorakit"]),
        .library(
            name: "LoRAKit",
            targets: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA", "Surgery",
                "TensorOps",
                "TrainingNumerics", "TinyXLModel", "TrainingIO", "Trainer", "Synthesis",
            ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // System libraries: one C doorway each (Debian: liblapacke-dev libopenblas-dev, libjson-c-dev, libstb-dev).
        .systemLibrary(
            name: "CLapack", pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev", "libopenblas-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        // Header-only: Linux calls glibc declares only under _GNU_SOURCE (copy_file_range).
        .systemLibrary(name: "CSystem"),
        .systemLibrary(name: "CStb", pkgConfig: "stb", providers: [.apt(["libstb-dev"])]),

        .target(name: "SystemIO", dependencies: ["CSystem"], swiftSettings: optimized),
        .target(name: "JSON", dependencies: ["CJSONC"], swiftSettings: optimized),
        .target(
            name: "SafeTensors",
            dependencies: ["SystemIO", "JSON", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: optimized),
        .target(
            name: "LinearAlgebra", dependencies: ["CLapack", realModule], swiftSettings: optimized),
        // Model families as data: SDXL, SD1.x/2.x; their namings, checkpoint layouts and blocks.
        .target(name: "ModelFamilies", swiftSettings: optimized),
        .target(
            name: "LoRA",
            dependencies: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", realModule,
            ],
            swiftSettings: optimized),
        .target(
            name: "Surgery",
            dependencies: [
                "SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA",
                realModule,
            ],
            swiftSettings: optimized),
        // The trainer, in layers: kernels, the model, the numerics of training, data in and logs
        // out, then the loop that joins them.
        .target(
            name: "TensorOps", dependencies: ["SystemIO", "LinearAlgebra", realModule],
            swiftSettings: alwaysOptimized),
        .target(
            name: "TrainingNumerics", dependencies: ["SystemIO", "LinearAlgebra", realModule],
            swiftSettings: alwaysOptimized),
        .target(
            name: "TinyXLModel",
            dependencies: [
                "SystemIO", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA", "TensorOps",
                "TrainingNumerics",
            ],
            swiftSettings: alwaysOptimized),
        .target(
            name: "TrainingIO",
            dependencies: ["SystemIO", "SafeTensors", "LinearAlgebra", "TensorOps", "TrainingNumerics", "CStb"],
            swiftSettings: alwaysOptimized),
        .target(
            name: "Trainer",
            dependencies: ["SystemIO", "JSON", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA", "TrainingNumerics", "TinyXLModel", "TrainingIO"],
            swiftSettings: alwaysOptimized),
        // Generators of inputs for tests, benchmarks and pretraining: the procedural image world,
        // synthetic LoRAs and checkpoints. Nothing else depends on them but the tool.
        .target(
            name: "Synthesis",
            dependencies: [
                "SystemIO", "SafeTensors", "LinearAlgebra", "ModelFamilies", "LoRA", "TinyXLModel",
                "TrainingIO", "Trainer", realModule,
            ],
            swiftSettings: optimized),
        .executableTarget(
            name: "lorakit",
            dependencies: ["SystemIO", "JSON", "Surgery", "Trainer", "TrainingIO", "TinyXLModel", "TrainingNumerics", "Synthesis", "LoRA", "SafeTensors", "LinearAlgebra", .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log")]),

        // make bench's timings that no command exposes (a training step); not part of swift test.
        .executableTarget(
            name: "lorakit-bench",
            dependencies: [
                "TinyXLModel", "TrainingNumerics", "LinearAlgebra",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/lorakit-bench", swiftSettings: optimized),

        // make faults: runs the built tool against bad files, arguments, faults and datasets.
        .executableTarget(
            name: "lorakit-faults",
            dependencies: ["SafeTensors", "TrainingIO", .product(name: "ArgumentParser", package: "swift-argument-parser"), "SystemIO"],
            path: "Faults/lorakit-faults"),

        .target(name: "TestSupport", dependencies: ["SafeTensors", "LinearAlgebra"], path: "Tests/TestSupport"),
        .testTarget(name: "SystemIOTests", dependencies: ["SystemIO", "TestSupport"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport", "JSON", "SystemIO"]),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "TestSupport"]),
        .testTarget(
            name: "ModelFamiliesTests", dependencies: ["ModelFamilies", "LinearAlgebra", "TestSupport"]),
        .testTarget(
            name: "LoRATests", dependencies: ["LoRA", "ModelFamilies", "LinearAlgebra", "TestSupport", "SafeTensors"]),
        .testTarget(
            name: "SurgeryTests",
            dependencies: ["Surgery", "Synthesis", "LoRA", "ModelFamilies", "LinearAlgebra", "SafeTensors", "TestSupport", "SystemIO"]),
        .target(
            name: "TrainerTestSupport",
            dependencies: [
                "TestSupport", "JSON", "SafeTensors", "LinearAlgebra", "TensorOps", "TrainingIO",
            ],
            path: "Tests/TrainerTestSupport"),
        .testTarget(
            name: "TensorOpsTests", dependencies: ["TensorOps", "TrainerTestSupport", "LinearAlgebra"]),
        .testTarget(
            name: "TrainingNumericsTests",
            dependencies: ["TrainingNumerics", "TrainerTestSupport", "LinearAlgebra", "SafeTensors", "TestSupport"]),
        .testTarget(
            name: "TrainingIOTests",
            dependencies: ["TrainingIO", "TrainingNumerics", "LinearAlgebra", "TrainerTestSupport", realModule, "SafeTensors", "SystemIO", "TestSupport"]),
        .testTarget(
            name: "TinyXLModelTests",
            dependencies: ["TinyXLModel", "TensorOps", "TrainingNumerics", "LoRA", "LinearAlgebra", "TrainerTestSupport", "SafeTensors", "TestSupport"]),
        .testTarget(
            name: "TrainerTests",
            dependencies: ["Trainer", "TinyXLModel", "TrainingIO", "TrainingNumerics", "TensorOps", "LoRA", "Synthesis", "LinearAlgebra", "SafeTensors", "TestSupport"]),
        .testTarget(
            name: "SynthesisTests", dependencies: ["Synthesis", "TrainingIO", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["lorakit", "TestSupport", "SafeTensors"]),
    ]
)
