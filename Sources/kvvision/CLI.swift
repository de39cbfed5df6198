import Foundation
import KVVision

/// The root of the command line: dispatch, `--help`, `--version`, and error reporting.
///
/// Every failure reaches the user as one line on stderr: `kvvision: error: …` (exit 1) or
/// `kvvision CMD: …` with a pointer to `--help` (exit 64).
enum CLI {
    /// All subcommands, in the order `--help` lists them.
    static var commands: [any Command.Type] {
        [
            ProbeCommand.self,
            InspectCommand.self,
            EncodeCommand.self,
            SynthCommand.self,
            TrackCommand.self,
            DetectCommand.self,
            ServeCommand.self,
            FramesCommand.self,
            EvalCommand.self,
            BenchCommand.self,
        ]
    }

    static var rootHelp: String {
        let list = listing(commands)
        return """
        kvvision \(KVVisionInfo.version) — streaming video understanding: who is who, and what each one is doing.

        Usage: kvvision COMMAND [OPTIONS] [ARGS]

        Commands:
        \(list.joined(separator: "\n"))

        Options:
          --help, -h   show this help (or a command's, after its name)
          --version    print the version

        Data goes to stdout, logs and errors to stderr. Exit codes: 0 success, 1 failure, 64 bad usage.
        """
    }

    /// Runs the CLI with `argv` (without the program name) and returns the exit code.
    static func run(_ argv: [String]) -> Int32 {
        Console.setUp()
        guard let name = argv.first else {
            Console.write(fd: 2, rootHelp + "\n")
            return ExitCode.usage
        }
        switch name {
        case "--help", "-h", "help":
            if name == "help", argv.count > 1, let cmd = commands.first(where: { $0.name == argv[1] }) {
                Console.out(cmd.help)
            } else {
                Console.out(rootHelp)
            }
            return ExitCode.success
        case "--version":
            Console.out("kvvision \(KVVisionInfo.version)")
            return ExitCode.success
        default: break
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            Console.err("kvvision: unknown command '\(name)' (see kvvision --help)")
            return ExitCode.usage
        }
        var args = Arguments(Array(argv.dropFirst()))
        if args.wantsHelp {
            Console.out(command.help(for: Array(argv.dropFirst())))
            return ExitCode.success
        }
        return execute(command.name) { try command.run(&args) }
    }

    /// Runs `body`, mapping thrown errors to one stderr line and an exit code.
    static func execute(_ label: String, _ body: () throws -> Int32) -> Int32 {
        do {
            return try body()
        } catch let error as UsageError {
            Console.endProgress()
            Console.err("kvvision \(label): \(error.description) (see kvvision \(label) --help)")
            return ExitCode.usage
        } catch let error as any KVVisionError {
            Console.endProgress()
            Console.err("kvvision: error: \(error.description)")
            return ExitCode.failure
        } catch {
            Console.endProgress()
            Console.err("kvvision: error: \(error)")
            return ExitCode.failure
        }
    }
}
