// swift-tools-version:6.0
import PackageDescription

// Generic matrix and tensor code is called across module boundaries in hot loops; without
// cross-module optimization it runs through value witnesses instead of being specialized.
let optimized: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
// The trainer's kernels are SIMD code that runs 20-50x slower unoptimised: its oracle tests would
// take minutes in a debug `swift test`, so it is optimised in debug builds too.
let alwaysOptimized: [SwiftSetting] = optimized + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "lorakit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lorakit", targets: ["lorakit"]),
        .library(
            name: "LoRAKit",
            targets: ["SafeTensors", "LinearAlgebra", "LoRA", "Surgery", "Trainer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
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

        .target(
            name: "SafeTensors",
            dependencies: ["CJSONC", "CSystem", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: optimized),
        .target(name: "LinearAlgebra", dependencies: ["CLapack"], swiftSettings: optimized),
        .target(name: "LoRA", dependencies: ["SafeTensors", "LinearAlgebra"], swiftSettings: optimized),
        .target(name: "Surgery", dependencies: ["LoRA", "SafeTensors", "LinearAlgebra"], swiftSettings: optimized),
        .target(
            name: "Trainer", dependencies: ["LoRA", "SafeTensors", "LinearAlgebra", "CStb"],
            swiftSettings: alwaysOptimized),
        .executableTarget(
            name: "lorakit",
            dependencies: [
                "Surgery", "Trainer", "LoRA", "SafeTensors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // make bench's timings that no command exposes (a training step); not part of swift test.
        .executableTarget(
            name: "lorakit-bench",
            dependencies: [
                "Trainer", "LinearAlgebra",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/lorakit-bench", swiftSettings: optimized),

        // make faults: runs the built tool against bad files, arguments, faults and datasets.
        .executableTarget(
            name: "lorakit-faults",
            dependencies: [
                "SafeTensors", "Trainer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Faults/lorakit-faults"),

        .target(name: "TestSupport", dependencies: ["SafeTensors", "LinearAlgebra"], path: "Tests/TestSupport"),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport"]),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "TestSupport"]),
        .testTarget(name: "LoRATests", dependencies: ["LoRA", "TestSupport"]),
        .testTarget(name: "SurgeryTests", dependencies: ["Surgery", "TestSupport"]),
        .testTarget(name: "TrainerTests", dependencies: ["Trainer", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["lorakit", "TestSupport"]),
    ]
)
