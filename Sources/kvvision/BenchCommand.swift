/// `kvvision bench KIND …`: measured benchmarks. Each kind is its own file (`Bench<Kind>Command.swift`).
///
/// Benchmarks report ratios measured in one run against a reference (FFmpeg, OpenBLAS peak,
/// recomputation), never absolute timings alone; `--json` gives machine-readable output.
enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "measure decode, encoder and temporal-cache speed (ratios in one run)"

    /// The benchmark kinds, in listing order.
    static var kinds: [any Command.Type] {
        [
            BenchDecodeCommand.self,
            BenchEncoderCommand.self,
            BenchTemporalCommand.self,
            BenchTrackCommand.self,
        ]
    }

    static var help: String {
        let list = listing(kinds)
        return """
        Usage: kvvision bench KIND [OPTIONS]

        Kinds:
        \(list.joined(separator: "\n"))

        Run `kvvision bench KIND --help` for each kind's options. Results and their commands are
        recorded in docs/benchmarks.md.
        """
    }

    /// `kvvision bench KIND --help` prints the kind's help; `kvvision bench --help` this one.
    static func help(for args: [String]) -> String {
        guard let first = args.first, let kind = kinds.first(where: { $0.name == first }) else { return help }
        return kind.help
    }

    static func run(_ args: inout Arguments) throws -> Int32 {
        guard let kindName = try args.nextPositional() else { throw UsageError("missing benchmark kind") }
        guard let kind = kinds.first(where: { $0.name == kindName }) else {
            throw UsageError("unknown benchmark kind '\(kindName)'")
        }
        return try kind.run(&args)
    }
}
