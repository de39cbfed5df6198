import Testing

/// The root command line: help, version, usage errors and exit codes.
@Suite struct CLITests {
    @Test func versionPrintsOnStdoutAndExitsZero() throws {
        let r = try CLIRunner.run(["--version"])
        #expect(r.code == 0)
        #expect(r.stdout.hasPrefix("kvvision "))
        #expect(r.stderr.isEmpty)
    }

    @Test func helpListsCommandsAndExitsZero() throws {
        let r = try CLIRunner.run(["--help"])
        #expect(r.code == 0)
        #expect(r.stdout.contains("Usage: kvvision COMMAND"))
    }

    @Test func unknownCommandIsOneLineUsageErrorWithExit64() throws {
        let r = try CLIRunner.run(["frobnicate"])
        #expect(r.code == 64)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains("unknown command 'frobnicate'"))
    }

    @Test func noArgumentsIsUsageError() throws {
        let r = try CLIRunner.run([])
        #expect(r.code == 64)
    }
}
