import Foundation
import Testing

/// `kvvision eval` from the command line: report on stdout, one-line errors, exit codes.
@Suite struct EvalCommandTests {
    static var gtDir: String { TestFiles.fixture("eval/gt").path }

    @Test func jsonReportOnStdoutAndTableOnStderr() throws {
        let r = try CLIRunner.run(["eval", "--gt", Self.gtDir, "--pred", TestFiles.fixture("eval/combined_jsonl.jsonl").path, "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let tracking = try #require(json["tracking"] as? [String: Any])
        #expect((tracking["switches"] as? NSNumber)?.intValue == 2)
        #expect(json["actions"] is [String: Any], "labels.json beside gt.txt is used")
        #expect(r.stderr.contains("MOTA") && r.stderr.contains("IDF1"))
    }

    @Test func tableOnStdoutWithoutJSON() throws {
        let r = try CLIRunner.run(["eval", "--gt", Self.gtDir + "/gt.txt", "--pred", TestFiles.fixture("eval/perfect.txt").path])
        #expect(r.code == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count >= 2 && lines[0].contains("MOTA") && lines[1].contains("100.0"))
        #expect(r.stderr.isEmpty)
    }

    @Test func missingPredictionFileIsOneLineErrorWithExit1() throws {
        let r = try CLIRunner.run(["eval", "--gt", Self.gtDir, "--pred", "/nonexistent/p.txt"])
        #expect(r.code == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr == "kvvision: error: /nonexistent/p.txt: no such file\n")
    }

    @Test func directoryWithoutGroundTruthNamesTheExpectedFile() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["eval", "--gt", dir.path, "--pred", TestFiles.fixture("eval/perfect.txt").path])
        #expect(r.code == 1)
        #expect(r.stderr.contains(dir.appendingPathComponent("gt.txt").path + ": no such file"))
    }

    @Test func malformedPredictionLineIsNamedWithExit1() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pred = dir.appendingPathComponent("p.txt")
        try Data("1,1,0,0,10,10,1\n2,1,0,0,-4,10,1\n".utf8).write(to: pred)
        let r = try CLIRunner.run(["eval", "--gt", Self.gtDir, "--pred", pred.path])
        #expect(r.code == 1)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains("\(pred.path):2: negative box size"))
    }

    @Test func missingOptionsAreUsageErrors() throws {
        let r = try CLIRunner.run(["eval", "--pred", "x.txt"])
        #expect(r.code == 64)
        #expect(r.stderr.contains("missing --gt"))
        let r2 = try CLIRunner.run(["eval", "--gt", "x", "--pred", "y", "--frobnicate"])
        #expect(r2.code == 64)
        let help = try CLIRunner.run(["eval", "--help"])
        #expect(help.code == 0 && help.stdout.contains("Usage: kvvision eval"))
    }
}
