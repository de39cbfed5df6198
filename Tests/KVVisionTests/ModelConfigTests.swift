import Foundation
import Testing
@testable import KVVision

/// ModelConfig JSON round trip, defaults and validation.
@Suite struct ModelConfigTests {
    @Test func decodesWithDefaultsAndRoundTrips() throws {
        let json = #"{"image_size": [224, 224], "patch_size": 16, "dim": 192, "depth": 12, "heads": 3, "temporal": {"dim": 128, "heads": 4, "kv_heads": 2, "window": 16}, "class_names": ["circle"]}"#
        let c = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        #expect(c.mlpDim == 768 && c.layerNormEps == 1e-6 && c.name == "vit")
        #expect(c.mean == [0.485, 0.456, 0.406])
        #expect(c.temporal == ModelConfig.Temporal(dim: 128, heads: 4, kvHeads: 2, window: 16))
        #expect(c.classNames == ["circle"] && c.actionNames == nil)
        try c.validate()
        let again = try JSONDecoder().decode(ModelConfig.self, from: JSONEncoder().encode(c))
        #expect(again == c)
    }

    @Test func validationRejectsEachBadField() {
        var c = ModelConfig(imageSize: [32, 48], patchSize: 8, dim: 64, depth: 2, heads: 4)
        #expect(throws: Never.self) { try c.validate() }
        c.imageSize = [30, 48]
        #expect(throws: WeightsError.self) { try c.validate() }
        c.imageSize = [32, 48]; c.heads = 6
        #expect(throws: WeightsError.invalidConfig(field: "heads", problem: "6 heads do not divide dim 64")) { try c.validate() }
        c.heads = 4; c.std = [1, 0, 1]
        #expect(throws: WeightsError.self) { try c.validate() }
        c.std = [1, 1, 1]; c.temporal = .init(dim: 64, heads: 4, kvHeads: 3, window: 8)
        #expect(throws: WeightsError.self) { try c.validate() }
        c.temporal = .init(dim: 64, heads: 4, kvHeads: 2, window: 8)
        #expect(throws: Never.self) { try c.validate() }
    }

    @Test func presetsAreValidDeiTShapes() throws {
        for name in ModelConfig.presetNames { try #require(ModelConfig.preset(name)).validate() }
        let tiny = try #require(ModelConfig.preset("deit-tiny"))
        let vit = try VisionTransformer.random(config: tiny)
        #expect(vit.parameterCount == 5_524_416)
        #expect(ModelConfig.preset("nope") == nil)
    }
}
