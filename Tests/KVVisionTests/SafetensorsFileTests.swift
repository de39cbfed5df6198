import Foundation
import Testing
@testable import KVVision

/// Safetensors reading and every malformed-file case as a typed `WeightsError`.
@Suite struct SafetensorsFileTests {
    /// Writes `header` (raw JSON text) + `data` with the length prefix `length` (default: the real one).
    static func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil, _ label: String = #function) throws -> String {
        let json = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(json.count)).littleEndian) { bytes += $0 }
        bytes += json + data
        let url = try TestFiles.scratchDirectory(label).appendingPathComponent("m.safetensors")
        try Data(bytes).write(to: url)
        return url.path
    }

    static func write(_ bytes: [UInt8], _ label: String = #function) throws -> String {
        let url = try TestFiles.scratchDirectory(label).appendingPathComponent("m.safetensors")
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test func readsF32F16AndBF16AndMetadata() throws {
        let values: [Float] = [1, -2.5, 0.15625, 3]
        let t = try Tensor(shape: [2, 2], storage: values)
        let bytes = SafetensorsFile.encode([("a", t, .f32), ("b", t, .f16), ("c", t, .bf16)], metadata: ["k": "v"])
        let f = try SafetensorsFile(path: Self.write(bytes))
        #expect(f.names == ["a", "b", "c"])
        #expect(f.metadata == ["k": "v"])
        for name in ["a", "b", "c"] {
            let got = try f.tensor(name)
            #expect(got.shape == [2, 2])
            #expect(got.storage == values, "\(name)")
        }
        #expect(f.entries["b"]?.dtype == .f16)
    }

    @Test func truncatedFileIsTypedError() throws {
        let path = try Self.write([1, 2, 3])
        #expect(throws: WeightsError.truncated(path: path, size: 3)) { try SafetensorsFile(path: path) }
    }

    @Test func headerLengthPastEndIsTypedError() throws {
        let path = try Self.file("{}", length: 1000)
        #expect(throws: WeightsError.headerLengthPastEnd(path: path, headerLength: 1000, fileSize: 10)) { try SafetensorsFile(path: path) }
    }

    @Test func headerNotJSONIsTypedError() throws {
        let path = try Self.file("{not json")
        #expect(throws: WeightsError.headerNotJSON(path: path, reason: "invalid JSON")) { try SafetensorsFile(path: path) }
        let array = try Self.file("[1, 2]", "array")
        #expect(throws: WeightsError.headerNotJSON(path: array, reason: "top level is not an object")) { try SafetensorsFile(path: array) }
    }

    @Test func unknownDtypeNamesTheTensor() throws {
        let path = try Self.file(#"{"w": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(throws: WeightsError.unknownDtype(path: path, tensor: "w", dtype: "I64")) { try SafetensorsFile(path: path) }
    }

    @Test func shapeSpanMismatchNamesTheTensor() throws {
        let path = try Self.file(#"{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}"#, data: [UInt8](repeating: 0, count: 24))
        #expect(throws: WeightsError.spanMismatch(path: path, tensor: "w", shape: [2, 3], dtype: "F32", expectedBytes: 24, spanBytes: 20)) {
            try SafetensorsFile(path: path)
        }
    }

    @Test func spanPastEndOfFileIsTypedError() throws {
        let path = try Self.file(#"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}"#, data: [UInt8](repeating: 0, count: 16))
        #expect(throws: WeightsError.spanOutsideFile(path: path, tensor: "w", begin: 8, end: 24, dataBytes: 16)) { try SafetensorsFile(path: path) }
    }

    @Test func overlappingSpansAreTypedError() throws {
        let path = try Self.file(#"{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}"#,
                                 data: [UInt8](repeating: 0, count: 16))
        #expect(throws: WeightsError.overlappingSpans(path: path, tensor: "b", other: "a")) { try SafetensorsFile(path: path) }
    }

    @Test func malformedEntriesAreTypedErrors() throws {
        for (i, header) in [#"{"w": 3}"#, #"{"w": {"shape": [1], "data_offsets": [0, 4]}}"#,
                            #"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#,
                            #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}"#,
                            #"{"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#,
                            #"{"__metadata__": {"a": 1}}"#].enumerated() {
            let path = try Self.file(header, data: [0, 0, 0, 0], "entry\(i)")
            #expect(throws: WeightsError.self) { try SafetensorsFile(path: path) }
        }
    }

    @Test func missingFileIsTypedError() {
        #expect(throws: WeightsError.self) { try SafetensorsFile(path: "/nonexistent/model.safetensors") }
    }

    /// A plain timm-named checkpoint (no kvvision metadata) of a small square-grid ViT.
    static func plainCheckpoint(dim: Int = 64, depth: Int = 2, grid: Int = 3, patch: Int = 4, drop: String? = nil,
                                reshape: (String, [Int])? = nil, extra: Bool = false, _ label: String = #function) throws -> String {
        let config = ModelConfig(imageSize: [grid * patch, grid * patch], patchSize: patch, dim: dim, depth: depth, heads: 1)
        var list: [(name: String, tensor: Tensor, dtype: ElementType)] = []
        for (name, shape) in VisionTransformer.requiredTensors(config) where name != drop {
            let s = reshape?.0 == name ? reshape!.1 : shape
            list.append((name, Tensor(shape: s, repeating: 0.01), .f32))
        }
        if extra { list.append(("head.weight", Tensor(shape: [10, dim]), .bf16)) }
        return try write(SafetensorsFile.encode(list), label)
    }

    @Test func plainTimmCheckpointInfersConfigAndReportsUnusedTensors() throws {
        let path = try Self.plainCheckpoint(dim: 128, depth: 3, extra: true)
        let (vit, unused) = try VisionTransformer.load(path: path)
        #expect(vit.config.dim == 128 && vit.config.depth == 3 && vit.config.patchSize == 4)
        #expect(vit.config.imageSize == [12, 12] && vit.config.heads == 2 && vit.config.mlpDim == 512)
        #expect(unused == ["head.weight"])
        let (withHeads, _) = try VisionTransformer.load(path: path, heads: 4)
        #expect(withHeads.config.heads == 4)
    }

    @Test func headsThatDoNotDivideDimAreTypedError() throws {
        let path = try Self.plainCheckpoint()
        #expect(throws: WeightsError.invalidConfig(field: "heads", problem: "3 heads do not divide dim 64")) {
            try VisionTransformer.load(path: path, heads: 3)
        }
    }

    @Test func missingTensorIsTypedError() throws {
        let path = try Self.plainCheckpoint(drop: "blocks.1.attn.proj.bias")
        #expect(throws: WeightsError.missingTensor(path: path, tensor: "blocks.1.attn.proj.bias")) { try VisionTransformer.load(path: path) }
    }

    @Test func wrongShapeIsTypedError() throws {
        let path = try Self.plainCheckpoint(reshape: ("blocks.0.mlp.fc2.weight", [64, 128]))
        #expect(throws: WeightsError.wrongShape(path: path, tensor: "blocks.0.mlp.fc2.weight", expected: [64, 256], found: [64, 128])) {
            try VisionTransformer.load(path: path)
        }
    }

    @Test func nonSquareGridNeedsImageSize() throws {
        let path = try Self.write(SafetensorsFile.encode(
            VisionTransformer.requiredTensors(ModelConfig(imageSize: [8, 12], patchSize: 4, dim: 64, depth: 1, heads: 1))
                .map { ($0.name, Tensor(shape: $0.shape), ElementType.f32) }))
        #expect(throws: WeightsError.self) { try VisionTransformer.load(path: path) }
        let (vit, _) = try VisionTransformer.load(path: path, imageSize: [8, 12])
        #expect(vit.config.grid == (2, 3))
    }

    @Test func badConfigMetadataIsTypedError() throws {
        for (i, json) in [#"{"dim": 64}"#, "not json", #"{"image_size": [32, 48], "patch_size": 8, "dim": 64, "depth": 2, "heads": 5}"#].enumerated() {
            let path = try Self.write(SafetensorsFile.encode([], metadata: ["kvvision.config": json]), "meta\(i)")
            let file = try SafetensorsFile(path: path)
            #expect(throws: WeightsError.self) { try ModelConfig.from(file) }
        }
    }
}
