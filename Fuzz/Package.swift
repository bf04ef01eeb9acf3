// swift-tools-version:6.0
// libFuzzer targets for the SafeTensors reader, LoRA files, metadata JSON, block vectors,
// resize recipes and sample-prompt files, kept out of the main package so that
// `swift build` and `swift test` there never see `-sanitize=fuzzer`. Build and run through
// `scripts/fuzz.sh` (scratch path `.build-fuzz`).
import PackageDescription

let package = Package(
    name: "lorakit-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "lorakit", path: "..")
    ],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver; the library itself comes with -sanitize=fuzzer.
        .systemLibrary(name: "CLibFuzzer"),
        // The driver call every target's `main` makes.
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"]),
    ]
        // One executable per target, each on the library and the shared driver call.
        + [
            "FuzzSafeTensorsReader", "FuzzMetadataJSON", "FuzzBlockVector", "FuzzResizeRecipe",
            "FuzzLoRAFile", "FuzzPromptFile",
        ].map { name in
            .executableTarget(
                name: name,
                dependencies: ["FuzzSupport", .product(name: "LoRAKit", package: "lorakit")])
        }
)
