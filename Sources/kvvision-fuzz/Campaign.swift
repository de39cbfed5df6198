#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KVVision

/// A fuzzing campaign over some kinds: generates each input, runs it in a child process, counts
/// outcomes, saves every failing input as a reproducer and writes a summary.
///
/// Invariants: input `i` of kind `k` is `k.generate(SplitMix64.derived(seed: campaignSeed ^ hash(k), stream: i))`,
/// so any input can be regenerated (`kvvision-fuzz generate`); the campaign is single-threaded.
///
/// Thread-safety: one thread.
struct Campaign {
    struct Tally: Codable {
        var kind: String
        var inputs = 0
        /// The input was read and processed without an error.
        var accepted = 0
        /// The input was rejected with a clean, typed error.
        var rejected = 0
        var crashes = 0
        var hangs = 0
        var memory = 0
        var otherExits = 0
        /// Failed inside a batch but not when re-run alone (state left by an earlier input).
        var notReproduced = 0
        var failures: [String] = []
        var seconds = 0.0
        var maxPeakRSSMiB = 0.0

        enum CodingKeys: String, CodingKey {
            case kind, inputs, accepted, rejected, crashes, hangs, memory, failures, seconds
            case otherExits = "other_exits", maxPeakRSSMiB = "max_peak_rss_mib", notReproduced = "not_reproduced"
        }
    }

    var kinds: [FuzzKind]
    var inputs: Int
    /// Inputs per forked batch child.
    var batchSize = 250
    var seed: UInt64
    var child: ChildProcess
    var out: URL
    var context: FuzzContext

    static func streamSeed(_ seed: UInt64, kind: String) -> UInt64 {
        kind.utf8.reduce(seed) { SplitMix64.mix($0 ^ UInt64($1)) }
    }

    static func input(_ kind: FuzzKind, seed: UInt64, index: Int, context: FuzzContext) -> [UInt8] {
        var rng = SplitMix64.derived(seed: streamSeed(seed, kind: kind.name), stream: UInt64(index))
        return kind.generate(&rng, context)
    }

    mutating func run() throws -> [Tally] {
        let failures = out.appendingPathComponent("failures")
        try FileManager.default.createDirectory(at: failures, withIntermediateDirectories: true)
        var tallies: [Tally] = []
        for kind in kinds {
            var tally = Tally(kind: kind.name)
            let start = Date()
            let path = context.scratch + "/input." + kind.ext
            var batch = ChildBatch(timeLimit: child.timeLimit, memoryLimit: child.memoryLimit)
            let ctx = context, campaignSeed = seed
            var index = 0, nextLog = 1000
            while index < inputs {
                let events = batch.run(index..<min(inputs, index + batchSize)) { i in
                    let bytes = Self.input(kind, seed: campaignSeed, index: i, context: ctx)
                    FileManager.default.createFile(atPath: path, contents: Data(bytes))
                    do { try kind.run(path, ctx); return false } catch { return true }
                }
                tally.maxPeakRSSMiB = max(tally.maxPeakRSSMiB, Double(batch.lastPeakRSS) / 1_048_576)
                var next = index
                for event in events {
                    switch event {
                    case .finished(let i, let rejected):
                        tally.inputs += 1
                        if rejected { tally.rejected += 1 } else { tally.accepted += 1 }
                        next = i + 1
                    case .failed(let i, let first):
                        confirm(kind, index: i, first: first, path: path, failures: failures, tally: &tally)
                        next = i + 1
                    }
                }
                if next == index {  // the child died before finishing its first input: run it alone
                    confirm(kind, index: index, first: .exit(status: -1), path: path, failures: failures, tally: &tally)
                    next = index + 1
                }
                index = next
                if index >= nextLog || index >= inputs {
                    nextLog = (index / 1000 + 1) * 1000
                    log("\(kind.name): \(index)/\(inputs) inputs, \(tally.accepted) accepted, \(tally.rejected) rejected, "
                        + "\(tally.crashes) crashes, \(tally.hangs) hangs, \(tally.memory) memory, \(tally.otherExits) other, "
                        + "\(tally.notReproduced) not reproduced alone, " + String(format: "%.0f s", Date().timeIntervalSince(start)))
                }
            }
            unlink(path)
            tally.seconds = (Date().timeIntervalSince(start) * 10).rounded() / 10
            tallies.append(tally)
            try write(tallies)
        }
        return tallies
    }

    /// Re-runs input `index` alone in a fresh child (the batch child may have carried state from
    /// earlier inputs), counts the outcome, and saves the input when it fails alone.
    mutating func confirm(_ kind: FuzzKind, index: Int, first: ChildProcess.Outcome, path: String, failures: URL, tally: inout Tally) {
        let bytes = Self.input(kind, seed: seed, index: index, context: context)
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let ctx = context
        let outcome = child.run {
            do { try kind.run(path, ctx); return false } catch { return true }
        }
        tally.inputs += 1
        switch outcome {
        case .finished(let rejected):
            if rejected { tally.rejected += 1 } else { tally.accepted += 1 }
            if first != .exit(status: -1) {
                tally.notReproduced += 1
                log("\(kind.name) #\(index): \(first) in a batch, but \(outcome) alone (counted as not reproduced)")
            }
            return
        case .crash: tally.crashes += 1
        case .hang: tally.hangs += 1
        case .memory: tally.memory += 1
        case .exit: tally.otherExits += 1
        }
        let label: String = switch outcome {
        case .crash(let signal): "crash-sig\(signal)"
        case .hang: "hang"
        case .memory: "memory"
        default: "exit"
        }
        let name = "\(kind.name)-\(index)-\(label).\(kind.ext)"
        FileManager.default.createFile(atPath: failures.appendingPathComponent(name).path, contents: Data(bytes))
        tally.failures.append(name)
        log("\(kind.name) #\(index): \(label) (saved failures/\(name))")
    }

    func write(_ tallies: [Tally]) throws {
        struct Summary: Encodable {
            var seed: UInt64
            var inputsPerKind: Int
            var timeLimitSeconds: Double
            var memoryLimitMiB: Int
            var kinds: [Tally]
            enum CodingKeys: String, CodingKey {
                case seed, kinds, inputsPerKind = "inputs_per_kind", timeLimitSeconds = "time_limit_seconds", memoryLimitMiB = "memory_limit_mib"
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let summary = Summary(seed: seed, inputsPerKind: inputs, timeLimitSeconds: child.timeLimit,
                              memoryLimitMiB: child.memoryLimit >> 20, kinds: tallies)
        try encoder.encode(summary).write(to: out.appendingPathComponent("summary.json"))
    }
}

func log(_ line: String) {
    let stamp = ISO8601DateFormatter().string(from: Date())
    FileHandle.standardError.write(Data("[\(stamp)] \(line)\n".utf8))
}
