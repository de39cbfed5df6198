import Foundation
import Testing

/// `kvvision bench temporal`: report shape and usage errors (never its timings).
@Suite struct TemporalCLITests {
    @Test func benchTemporalJsonHasPerWindowSpeedupsAndMemoryPerPolicyAndStorage() throws {
        let r = try CLIRunner.run(["bench", "temporal", "--json", "--windows", "4,8", "--runs", "1", "--frames", "1", "--objects", "2"], timeout: 300)
        #expect(r.code == 0, "\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let windows = try #require(report["windows"] as? [[String: Any]])
        #expect(windows.compactMap { $0["window"] as? Int } == [4, 8])
        for w in windows {
            #expect((w["speedup_vs_recompute_kv"] as? Double).map { $0 > 0 } == true)
            #expect((w["speedup_vs_sliding_window"] as? Double).map { $0 > 0 } == true)
            let memory = try #require(w["memory"] as? [[String: Any]])
            #expect(memory.count == 12)  // 3 policies × (f32, f16, int8, int8-kc)
            let bytes = Dictionary(uniqueKeysWithValues: memory.map { ("\($0["policy"]!)/\($0["storage"]!)", $0["memory_bytes"] as? Int ?? 0) })
            #expect(Double(bytes["fifo/int8"]!) <= 0.3 * Double(bytes["fifo/f32"]!))
            #expect(bytes["fifo/int8-kc"]! > bytes["fifo/int8"]!)
        }
        let lossy = try #require(report["lossy"] as? [[String: Any]])
        #expect(lossy.contains { $0["storage"] as? String == "int8" && ($0["max_error"] as? Double ?? -1) > 0 })
    }

    @Test func benchTemporalRejectsBadWindowListWithUsageError() throws {
        let r = try CLIRunner.run(["bench", "temporal", "--windows", "8,zero"])
        #expect(r.code == 64)
        #expect(r.stderr.contains("--windows"))
        let help = try CLIRunner.run(["bench", "temporal", "--help"])
        #expect(help.code == 0 && help.stdout.contains("Usage: kvvision bench temporal"))
    }
}
