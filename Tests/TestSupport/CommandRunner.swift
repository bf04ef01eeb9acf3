import Foundation

/// Runs the built `lorakit` binary, as a user would.
public enum CommandRunner {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The `lorakit` executable next to the test bundle (`.build/<configuration>/lorakit`).
    public static var executable: String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // swift-testing runs `<pkg>PackageTests.xctest` (a file on Linux) from .build/<config>/.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("lorakit").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return Fixtures.root.appendingPathComponent(".build/debug/lorakit").path
    }

    /// Runs `lorakit arguments...` in `directory` (default: the repository root).
    public static func run(
        _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
    )
        throws -> Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? Fixtures.root.path)
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting so a large output cannot fill a pipe and block.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// Golden files under `Snapshots/`: a missing or different golden fails; `RECORD_GOLDENS=1`
/// writes the observed text instead (review the diff before committing).
public enum Golden {
    public static func check(_ observed: String, named name: String) -> String? {
        let url = Fixtures.root.appendingPathComponent("Snapshots").appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["RECORD_GOLDENS"] == "1" {
            try? FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? observed.write(to: url, atomically: true, encoding: .utf8)
            return nil
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            return "missing golden Snapshots/\(name); record it with RECORD_GOLDENS=1"
        }
        guard expected == observed else {
            let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let observedLines = observed.split(separator: "\n", omittingEmptySubsequences: false)
            let index =
                zip(expectedLines, observedLines).enumerated().first {
                    $0.element.0 != $0.element.1
                }?.offset ?? min(expectedLines.count, observedLines.count)
            let want = index < expectedLines.count ? String(expectedLines[index]) : "<end>"
            let got = index < observedLines.count ? String(observedLines[index]) : "<end>"
            return
                "Snapshots/\(name) differs at line \(index + 1):\n  expected: \(want)\n  observed: \(got)"
        }
        return nil
    }
}
