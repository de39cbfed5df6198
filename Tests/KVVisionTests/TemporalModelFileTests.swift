import Foundation
import Testing
@testable import KVVision

/// Loading `temporal.*` from a safetensors model file.
@Suite struct TemporalModelFileTests {
    @Test func headLoadsFromSafetensorsWithConfigFromMetadata() throws {
        let (model, _) = try TemporalAttentionTests.model()
        let w = model.weights
        var config = ModelConfig(name: "tiny", imageSize: [32, 32], patchSize: 16, dim: TemporalAttentionTests.dim, depth: 1, heads: 2)
        config.temporal = .init(dim: 32, heads: 4, kvHeads: 2, window: 12)
        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        let bytes = SafetensorsFile.encode([("temporal.q.weight", w.q, .f32), ("temporal.k.weight", w.k, .f16),
                                            ("temporal.v.weight", w.v, .f32), ("temporal.o.weight", w.o, .f32),
                                            ("temporal.q.bias", w.qBias!, .f32)], metadata: ["kvvision.config": json])
        let url = try TestFiles.scratchDirectory().appendingPathComponent("temporal.safetensors")
        try Data(bytes).write(to: url)
        let file = try SafetensorsFile(path: url.path)
        let (head, window) = try TemporalAttention.load(file, model: ModelConfig.from(file))
        #expect(window == 12)
        #expect(head.config == TemporalConfig(modelDim: TemporalAttentionTests.dim, queryHeads: 4, kvHeads: 2, headDim: 8))
        #expect(head.weights.q == w.q && head.weights.qBias == w.qBias && head.weights.kBias == nil)
        #expect(zip(head.weights.k.storage, w.k.storage).allSatisfy { abs($0 - $1) <= abs($1) / 1024 })  // stored as F16

        var noTemporal = config
        noTemporal.temporal = nil
        #expect(throws: TemporalError.self) { _ = try TemporalAttention.load(file, model: noTemporal) }
        var wrongDim = config
        wrongDim.temporal = .init(dim: 64, heads: 4, kvHeads: 2, window: 12)
        #expect(throws: TemporalError.tensorShape(name: "temporal.q.weight", expected: [64, 16], found: [32, 16])) {
            _ = try TemporalAttention.load(file, model: wrongDim)
        }
    }
}
