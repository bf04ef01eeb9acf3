import ArgumentParser
import LinearAlgebra
import Logging
import SafeTensors
import SystemIO

@main
struct Lorakit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lorakit",
        abstract: "Inspect, chop, resize, merge and train LoRAs for Stable Diffusion XL.",
        discussion: """
            lorakit reads and writes LoRA .safetensors files the way kohya's scripts, LyCORIS, \
            ComfyUI, AUTOMATIC1111/Forge and diffusers do, and checks every file it reads. \
            Outputs go to a temporary file next to the target and are renamed into place; \
            an input is never overwritten.

            Exit status: 0 on success, 1 when a file or value is wrong (one line on stderr \
            names the file and the problem), 2 on a usage error, 128 + the signal when \
            SIGINT, SIGTERM or SIGHUP stops a run (130 for Ctrl-C); an interrupted run removes \
            its unfinished outputs.
            """,
        version: "0.1.0",
        subcommands: [
            InspectCommand.self, BlocksCommand.self, ChopCommand.self, ResizeCommand.self,
            MergeCommand.self,
            BakeCommand.self, ExtractCommand.self, DiffCommand.self, ConvertCommand.self, NormsCommand.self,
            TrainCommand.self,
            SampleCommand.self, EvalCommand.self, PretrainCommand.self, SynthCommand.self,
        ])

    /// Runs a subcommand; domain errors become one line and exit 1, usage errors exit 2.
    static func main() {
        Allocator.keepFreedMemoryForReuse()
        BLAS.settle()
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label) }
        Interruption.process.install { printError($0) }
        do {
            var command = try parseAsRoot(
                KohyaArguments.expand(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch let error as KohyaConfigError {
            printError("lorakit: \(error.description)")
            Terminal.exit(error.isUsage ? 2 : 1)
        } catch let error as UserFacingError {
            printError("lorakit: \(error.description)")
            Terminal.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                printError("Run 'lorakit --help' or 'lorakit <command> --help' for usage.")
                Terminal.exit(2)
            }
            if error is ExitCode || code == .success {
                exit(withError: error)  // --help, --version, or a status the command chose
            }
            // Any other error is still one `lorakit: ...` line and exit 1.
            var message = fullMessage(for: error)
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            printError("lorakit: " + message)
            Terminal.exit(1)
        }
    }

    static func printError(_ message: String, newline: Bool = true) {
        var stream = StandardError()
        print(message, terminator: newline ? "\n" : "", to: &stream)
    }
}

/// Diagnostics as `lorakit: warning: ...` lines on stderr.
struct StderrLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let prefix =
            switch event.level {
            case .warning: "lorakit: warning: "
            case .error, .critical: "lorakit: error: "
            default: "lorakit: "
            }
        Lorakit.printError(prefix + event.message.description)
    }
}
