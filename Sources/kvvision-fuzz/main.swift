#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KVVision

// kvvision-fuzz: the fuzzing campaign over every parser (docs/reliability.md). Not installed with
// kvvision; build it with `swift build -c release --product kvvision-fuzz`.

let usage = """
Usage:
  kvvision-fuzz run [--kinds K,K|all] [--inputs N] [--seed S] [--time-limit SECONDS]
                    [--memory-limit MIB] [--batch N] [--out DIR] [--root DIR]
  kvvision-fuzz replay KIND FILE [--root DIR]       run one input in-process; print the outcome
  kvvision-fuzz generate KIND --index I [--seed S] --out FILE [--root DIR]
  kvvision-fuzz list

Kinds: every name `list` prints (`all` runs them all); `selftest` checks the harness itself
(each input accepted, rejected, trapping, hanging or allocating without bound).

Runs every input in a forked child with a wall-time limit per input (default 5 s) and a memory
limit (default 1024 MiB resident); a signal, a time-out or the memory limit is a failure, saved under
OUT/failures/ once it also fails when re-run alone. One child runs --batch inputs in a row
(default 250; 1 forks per input). Counts go to OUT/summary.json and progress to stderr. --root is the repository
(seeds and fixtures are read from it; default: the current directory).
Exit codes: 0 no failures, 1 failures or an error, 64 bad usage.
"""

func fail(_ message: String, code: Int32 = 64) -> Never {
    FileHandle.standardError.write(Data("kvvision-fuzz: \(message)\n".utf8))
    exit(code)
}

var args = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name) else { return nil }
    guard i + 1 < args.count else { fail("\(name) needs a value") }
    let value = args[i + 1]
    args.removeSubrange(i...(i + 1))
    return value
}
@MainActor func kind(_ name: String) -> FuzzKind {
    if name == FuzzKind.selftest.name { return FuzzKind.selftest }
    guard let k = FuzzKind.all.first(where: { $0.name == name }) else {
        fail("unknown kind '\(name)' (kinds: \(FuzzKind.all.map(\.name).joined(separator: ", ")))")
    }
    return k
}

guard let command = args.first else { fail(usage) }
args.removeFirst()
if args.contains("--help") || command == "--help" { print(usage); exit(0) }
let root = URL(fileURLWithPath: option("--root") ?? FileManager.default.currentDirectoryPath)
let seed = UInt64(option("--seed") ?? "1") ?? { fail("--seed must be an unsigned integer") }()
let scratch = NSTemporaryDirectory() + "kvvision-fuzz-\(getpid())"
try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }
@MainActor func context() -> FuzzContext {
    do { return try FuzzContext(root: root, scratch: scratch) } catch {
        try? FileManager.default.removeItem(atPath: scratch)
        fail("cannot load seeds and fixtures under \(root.path): \(error) (run from the repository root or give --root)", code: 1)
    }
}

switch command {
case "list":
    for k in FuzzKind.all { print("\(k.name)\t\(k.summary)") }
case "replay":
    guard args.count == 2 else { fail(usage) }
    let k = kind(args[0])
    let ctx = context()
    do { try k.run(args[1], ctx); print("accepted") } catch { print("rejected: \(error)") }
case "generate":
    guard args.count >= 1, let index = option("--index").flatMap(Int.init), let out = option("--out") else { fail(usage) }
    let bytes = Campaign.input(kind(args[0]), seed: seed, index: index, context: context())
    FileManager.default.createFile(atPath: out, contents: Data(bytes))
case "run":
    let names = option("--kinds") ?? "all"
    let kinds = names == "all" ? FuzzKind.all : names.split(separator: ",").map { kind(String($0)) }
    let inputs = Int(option("--inputs") ?? "10000") ?? { fail("--inputs must be an integer") }()
    let timeLimit = Double(option("--time-limit") ?? "5") ?? { fail("--time-limit must be a number") }()
    let memory = Int(option("--memory-limit") ?? "1024") ?? { fail("--memory-limit must be an integer (MiB)") }()
    let batch = Int(option("--batch") ?? "250").flatMap { $0 > 0 ? $0 : nil } ?? { fail("--batch must be a positive integer") }()
    let out = URL(fileURLWithPath: option("--out") ?? "out/fuzz")
    guard args.isEmpty else { fail("unexpected arguments \(args)") }
    var campaign = Campaign(kinds: kinds, inputs: inputs, seed: seed, child: ChildProcess(timeLimit: timeLimit, memoryLimit: memory << 20),
                            out: out, context: context())
    campaign.batchSize = batch
    log("kvvision-fuzz: \(kinds.count) kinds × \(inputs) inputs, seed \(seed), limits \(timeLimit) s / \(memory) MiB, out \(out.path)")
    do {
        let tallies = try campaign.run()
        let failures = tallies.reduce(0) { $0 + $1.failures.count }
        log("done: \(tallies.reduce(0) { $0 + $1.inputs }) inputs, \(failures) failures; summary \(out.path)/summary.json")
        try? FileManager.default.removeItem(atPath: scratch)
        exit(failures == 0 ? 0 : 1)
    } catch {
        fail("\(error)", code: 1)
    }
default:
    fail(usage)
}
