/// One `kvvision` subcommand. Each lives in its own file, named `<Name>Command.swift`.
///
/// `run` parses its own arguments from `args` (options first, then positionals, then
/// `args.finish()` to reject leftovers), writes data to stdout and logs to stderr, and returns the
/// exit code. It throws `UsageError` for bad usage (exit 64) and any `KVVisionError` for runtime
/// failures (exit 1); `CLI.run` turns both into one line on stderr.
protocol Command {
    /// The word on the command line (`probe`, `bench`, …).
    static var name: String { get }
    /// One line for the root `--help` listing.
    static var summary: String { get }
    /// Full help text printed by `kvvision NAME --help`.
    static var help: String { get }
    /// The help for `kvvision NAME ARGS… --help` (default: `help`; `bench` picks its kind's).
    static func help(for args: [String]) -> String
    /// Runs the command. `--help` has already been handled by the caller.
    static func run(_ args: inout Arguments) throws -> Int32
}

extension Command {
    /// The help to print for `kvvision NAME ARGS… --help`: the command's own, unless it has
    /// sub-kinds (see `BenchCommand`).
    static func help(for args: [String]) -> String { help }
}

/// Bad command-line usage: exit code 64 (EX_USAGE).
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Exit codes of the CLI.
enum ExitCode {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64
}

/// The aligned `name  summary` lines that `--help` prints for a list of commands.
func listing(_ commands: [any Command.Type]) -> [String] {
    let width = commands.map { $0.name.count }.max() ?? 0
    return commands.map { "  " + $0.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.summary }
}
