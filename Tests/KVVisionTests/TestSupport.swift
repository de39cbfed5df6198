import Foundation
import Testing
@testable import KVVision

/// Test conveniences on the library's one generator (`SplitMix64`, Support/): the same seed gives
/// the same numbers on every machine.
extension SplitMix64 {
    /// Uniform in [-1, 1).
    mutating func nextFloat() -> Float { signedUnitFloat() }
    /// Uniform integer in `range` (modulo; the bias is irrelevant for tests).
    mutating func nextInt(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

/// Paths to committed fixtures and scratch space.
enum TestFiles {
    /// URL of a committed fixture under `Tests/KVVisionTests/Fixtures/`, e.g. `fixture("vit/tiny.safetensors")`.
    static func fixture(_ relativePath: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(relativePath)
    }

    /// One folder per test process under the temporary directory holding every scratch
    /// directory; removed when the process exits, so a test run leaves nothing behind.
    static let scratchRoot: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kvvision-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TestFiles.scratchRoot) }
        return url
    }()

    /// A fresh, empty temporary directory for one test (inside `scratchRoot`).
    static func scratchDirectory(_ label: String = #function) throws -> URL {
        let clean = label.filter { $0.isLetter || $0.isNumber }
        let url = scratchRoot.appendingPathComponent("\(clean)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Runs the built `kvvision` binary as a user would, capturing exit code, stdout and stderr.
struct CLIResult {
    var code: Int32
    var stdout: String
    var stderr: String
}

enum CLIRunner {
    /// The `kvvision` executable that `swift test` built next to the test bundle.
    static var binary: URL {
        Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("kvvision")
    }

    /// Runs `kvvision args…` (with `environment` added to this process's); kills it after
    /// `timeout` seconds (a hang is a test failure, not a stuck suite). The default leaves room for
    /// a debug build on a loaded 2-core machine running the suite in parallel (rendering the `hard`
    /// sample took over 60 s there).
    static func run(_ args: [String], timeout: TimeInterval = 300, environment: [String: String] = [:]) throws -> CLIResult {
        let process = Process()
        process.executableURL = binary
        process.arguments = args
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            Issue.record("kvvision \(args.joined(separator: " ")) did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        group.wait()
        return CLIResult(code: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }
}
