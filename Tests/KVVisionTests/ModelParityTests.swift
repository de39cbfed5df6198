import Foundation
import Testing
@testable import KVVision

/// The default model's heads against PyTorch on the golden clip (Tests/KVVisionTests/Fixtures/model,
/// written by tools/reference/make_model_fixtures.py): a tiny model of the shipped architecture,
/// 8 real frames, every stage's output, association probabilities with teacher-forced owners and
/// action logits. Swift must agree within 1e-4 of each tensor's largest magnitude (probabilities
/// within 2e-6, since the fixture's owners differ by about 1e-3).
@Suite("Model parity (golden clip)")
struct ModelParityTests {
    static let owners = 4

    static func load() throws -> (model: TrackingModel, clip: SafetensorsFile) {
        let model = try TrackingModel(file: SafetensorsFile(path: TestFiles.fixture("model/golden-model.safetensors").path))
        let clip = try SafetensorsFile(path: TestFiles.fixture("model/golden-clip.safetensors").path)
        return (model, clip)
    }

    /// Checks `a` against `ref` within `rel` of ref's largest magnitude (at least `floor`).
    static func close(_ a: Tensor, _ ref: Tensor, _ what: String, rel: Float = 1e-4, floor: Float = 1e-3) {
        let err = OpFixtures.maxAbsDiff(a, ref), scale = OpFixtures.maxAbs(ref, floor: floor)
        #expect(err <= rel * scale, "\(what): max |Δ| \(err) > \(rel) × \(scale)")
    }

    static func slice(_ t: Tensor, rows: Range<Int>) throws -> Tensor {
        let w = t.count / max(t.shape[0], 1)
        return try Tensor(shape: [rows.count] + Array(t.shape.dropFirst()), storage: Array(t.storage[(rows.lowerBound * w)..<(rows.upperBound * w)]))
    }

    @Test("loads strictly: config, heads, tracker defaults")
    func loads() throws {
        let (model, _) = try Self.load()
        #expect(model.config.name == "golden-tiny")
        #expect(model.classNames == ["circle", "square", "triangle", "cross"])
        #expect(model.actionNames.count == 5)
        #expect(model.asso.config.window == 3 && model.act.config.window == 3)
        #expect(model.maxObjects == 12)
        #expect(model.det.mapSize == (8, 12))
    }

    @Test("every stage equals PyTorch on 8 frames, windows sliding")
    func goldenClip() throws {
        let (model, clip) = try Self.load()
        let h = model.config.imageSize[0], w = model.config.imageSize[1]
        let frames = try clip.tensor("frames")
        let norm = try ImageNormalization(config: model.config)
        var encoder = try model.encoder.makeState(height: h, width: w)
        var det = DetectionHead.State(), tok = TokenHead.State()
        var asso = try model.asso.makeState(maxObjects: model.maxObjects)
        var act = try model.act.makeState(maxObjects: model.maxObjects)
        var input = Tensor(shape: [3, h, w])
        var history: [Int: (box: Box, frame: Int)] = [:]
        var lastSamples: [Int: [Float]] = [:]  // owner → grid samples of its last token
        #expect(model.act.changeInputs == 10, "the golden model has a change input (3×3 grid + overall)")
        let tc = model.tok.config
        for t in 0..<8 {
            let pixels = frames.storage[(t * h * w * 3)..<((t + 1) * h * w * 3)].map { UInt8($0) }
            try norm.apply(rgb: pixels, width: w, height: h, into: &input)
            if t == 0 { Self.close(input, try clip.tensor("input.0"), "input.0") }
            try model.encoder.encode(input, state: &encoder)
            Self.close(encoder.tokens, try clip.tensor("tokens.\(t)"), "tokens.\(t)")
            try model.det.forward(pixels: input, tokens: encoder.tokens, state: &det)
            Self.close(det.features, try clip.tensor("features.\(t)"), "features.\(t)")
            let k = model.det.classes
            var heat = try Self.slice(det.maps, rows: 0..<k), off = try Self.slice(det.maps, rows: k..<(k + 2))
            let size = try Self.slice(det.maps, rows: (k + 2)..<(k + 4))
            Self.close(heat, try clip.tensor("heat.\(t)"), "heat.\(t)")
            Self.close(off, try clip.tensor("offset.\(t)"), "offset.\(t)")
            Self.close(size, try clip.tensor("size.\(t)"), "size.\(t)")
            heat = Tensor(shape: [0]); off = Tensor(shape: [0])
            try model.tok.appearanceMap(features: det.features, state: &tok)
            Self.close(tok.map, try clip.tensor("app_map.\(t)"), "app_map.\(t)")

            // Detections: same order, boxes and scores.
            let found = try model.det.decode(&det)
            let ref = try clip.tensor("detections.\(t)")
            let n = ref.shape[0]
            #expect(found.count == n, "frame \(t): \(found.count) detections, PyTorch \(n)")
            guard found.count == n else { continue }
            var got = Tensor(shape: [n, 6])
            for (i, d) in found.enumerated() {
                got.storage.replaceSubrange((6 * i)..<(6 * i + 6), with: [Float(d.box.x), Float(d.box.y), Float(d.box.w), Float(d.box.h), d.score, Float(d.classIndex)])
            }
            Self.close(got, ref, "detections.\(t)")

            // Appearance and query tokens (no previous observation).
            try model.tok.appearance(boxes: found.map(\.box), features: det.features, state: &tok)
            Self.close(tok.appearance, try clip.tensor("app.\(t)"), "app.\(t)")
            let app = tok.appearance
            var inputs = Tensor(shape: [n, tc.motInputs])
            for (i, d) in found.enumerated() { model.tok.motionInputs(box: d.box, score: d.score, classIndex: d.classIndex, previous: nil, row: i, into: &inputs) }
            try model.tok.motion(inputs: inputs, state: &tok)
            let query = Self.join(app, rows: Array(0..<n), tok.motion, tokenDim: tc.tokenDim)
            Self.close(query, try clip.tensor("query.\(t)"), "query.\(t)")

            // Association over owners 1...4 before this frame's tokens are written.
            var probs = Tensor(shape: [0])
            try model.asso.probabilities(&asso, queryTokens: query, candidates: Array(1...Self.owners), into: &probs)
            Self.close(probs, try clip.tensor("assoc.\(t)"), "assoc.\(t)", rel: 2e-6, floor: 1)

            // Teacher-forced owners: rank k < 4 is owner k + 1; tokens against each owner's last one.
            let m = min(n, Self.owners)
            var motion = Tensor(shape: [m, tc.motInputs])
            for i in 0..<m {
                let prev = history[i + 1].map { TokenHead.Previous(box: $0.box, frames: t - $0.frame) }
                model.tok.motionInputs(box: found[i].box, score: found[i].score, classIndex: found[i].classIndex, previous: prev, row: i, into: &motion)
            }
            Self.close(motion, try clip.tensor("motion.\(t)"), "motion.\(t)")
            try model.tok.motion(inputs: motion, state: &tok)
            let owned = Self.join(app, rows: Array(0..<m), tok.motion, tokenDim: tc.tokenDim)
            Self.close(owned, try clip.tensor("owned.\(t)"), "owned.\(t)")
            let ownerIDs = Array(1...m)
            #expect(try clip.tensor("owners.\(t)").storage == ownerIDs.map(Float.init))
            try model.asso.write(&asso, tokens: owned, owners: ownerIDs, frame: t)
            // Appearance change since each owner's last token (zeros for its first).
            let f = 9 * model.tok.config.appChannels
            var changes = Tensor(shape: [m, model.act.changeInputs])
            for i in 0..<m {
                ActionHead.writeChange(current: tok.features, row: i, previous: lastSamples[i + 1], channels: model.tok.config.appChannels,
                                       into: &changes, outRow: i)
            }
            Self.close(changes, try clip.tensor("change.\(t)"), "change.\(t)")
            let logits = try model.act.step(&act, tokens: owned, changes: changes, owners: ownerIDs, frame: t)
            Self.close(logits, try clip.tensor("act.\(t)"), "act.\(t)")
            for i in 0..<m {
                history[i + 1] = (found[i].box, t)
                lastSamples[i + 1] = Array(tok.features.storage[(i * f)..<((i + 1) * f)])
            }
        }
        // The windows hold W = 3 frames after 8.
        #expect(asso.window.residentSlots == 3 && act.temporal.window.residentSlots == 3)
    }

    /// The act head's change input: 10·(1 − cos) per grid point and overall; zeros without a
    /// previous observation; a zero vector (a box off the map) counts as fully changed.
    @Test("appearance change: unchanged 0, orthogonal 10, first token zeros")
    func appearanceChange() throws {
        // Two points of two channels: point 0 unchanged, point 1 turned by 90°.
        let now = try Tensor(shape: [2, 4], storage: [9, 9, 9, 9, /* row 1 */ 1, 2, 0, 3])
        var out = Tensor(shape: [3, 3])
        ActionHead.writeChange(current: now, row: 1, previous: [2, 4, 3, 0], channels: 2, into: &out, outRow: 0)
        #expect(abs(out.storage[0]) < 1e-6 && abs(out.storage[1] - 10) < 1e-5)
        let overall = 10 * (1 - Float(10) / (Float(14).squareRoot() * Float(29).squareRoot()))
        #expect(abs(out.storage[2] - overall) < 1e-5)
        ActionHead.writeChange(current: now, row: 1, previous: nil, channels: 2, into: &out, outRow: 1)
        #expect(Array(out.storage[3..<6]) == [0, 0, 0])
        ActionHead.writeChange(current: now, row: 1, previous: [0, 0, 0, 0], channels: 2, into: &out, outRow: 2)
        #expect(Array(out.storage[6..<9]) == [10, 10, 10])
    }

    /// `[rows.count, tokenDim]`: app row r ‖ motion row i for the i-th of `rows`.
    static func join(_ app: Tensor, rows: [Int], _ motion: Tensor, tokenDim: Int) -> Tensor {
        let a = app.shape[1], m = motion.shape[1]
        var out = Tensor(shape: [rows.count, tokenDim])
        for (i, r) in rows.enumerated() {
            for j in 0..<a { out.storage[i * tokenDim + j] = app.storage[r * a + j] }
            for j in 0..<m { out.storage[i * tokenDim + a + j] = motion.storage[i * m + j] }
        }
        return out
    }

    /// `--precision int8` also runs the det head's 3×3 convs (those with ≥ 64 inputs per output) in
    /// int8: the features stay within 5 % of PyTorch's largest magnitude and the heat logits within
    /// 5 % of theirs on every golden frame (bound stated in docs/model.md, "Precision").
    @Test("int8: the det convs run in int8 and stay within their bound")
    func int8DetHead() throws {
        let file = try SafetensorsFile(path: TestFiles.fixture("model/golden-model.safetensors").path)
        let model = try TrackingModel(file: file, precision: .int8)
        let f32 = try TrackingModel(file: file)
        #expect(model.det.precision == .int8 && f32.det.precision == .f32)
        #expect(model.det.int8Neck.allSatisfy { $0 != nil } && f32.det.int8Neck.allSatisfy { $0 == nil })
        #expect(model.det.int8Stem.first! == nil, "the first stem conv (27 inputs) stays f32")
        #expect(model.det.int8Up != nil && f32.det.int8Up == nil, "the token up-projection runs in int8 only at int8")
        #expect((model.det.int8Pixels != nil) == Int8PixelConv.kernelAvailable && f32.det.int8Pixels == nil,
                "the first stem conv reads the bytes in int8 where the CPU has the kernel")
        let clip = try SafetensorsFile(path: TestFiles.fixture("model/golden-clip.safetensors").path)
        let h = model.config.imageSize[0], w = model.config.imageSize[1]
        let frames = try clip.tensor("frames")
        let norm = try ImageNormalization(config: model.config)
        var encoder = try model.encoder.makeState(height: h, width: w)
        var det = DetectionHead.State()
        var input = Tensor(shape: [3, h, w])
        for t in 0..<8 {
            let pixels = frames.storage[(t * h * w * 3)..<((t + 1) * h * w * 3)].map { UInt8($0) }
            try norm.apply(rgb: pixels, width: w, height: h, into: &input)
            try model.encoder.encode(input, state: &encoder)
            try model.det.forward(pixels: input, rgb: pixels, tokens: encoder.tokens, state: &det)
            let features = try clip.tensor("features.\(t)"), heat = try clip.tensor("heat.\(t)")
            print("int8 det frame \(t): features \(OpFixtures.maxAbsDiff(det.features, features) / OpFixtures.maxAbs(features)), heat \(OpFixtures.maxAbsDiff(try Self.slice(det.maps, rows: 0..<model.det.classes), heat) / OpFixtures.maxAbs(heat))")
            Self.close(det.features, features, "int8 features.\(t)", rel: 0.05)
            Self.close(try Self.slice(det.maps, rows: 0..<model.det.classes), heat, "int8 heat.\(t)", rel: 0.05)
        }
    }

    /// A pipeline runs the det stem before the encoder and the rest after it: the split gives the
    /// same maps as the whole head, and the rest without a stem for the frame is refused.
    @Test("det: stem then forward(tokens:) is the whole head; forward(tokens:) needs the stem first")
    func detStemSplit() throws {
        let file = try SafetensorsFile(path: TestFiles.fixture("model/golden-model.safetensors").path)
        let model = try TrackingModel(file: file, precision: .int8)
        let clip = try SafetensorsFile(path: TestFiles.fixture("model/golden-clip.safetensors").path)
        let h = model.config.imageSize[0], w = model.config.imageSize[1]
        let frames = try clip.tensor("frames")
        let norm = try ImageNormalization(config: model.config)
        var encoder = try model.encoder.makeState(height: h, width: w)
        var whole = DetectionHead.State(), split = DetectionHead.State()
        var input = Tensor(shape: [3, h, w])
        for t in 0..<3 {
            let pixels = frames.storage[(t * h * w * 3)..<((t + 1) * h * w * 3)].map { UInt8($0) }
            try norm.apply(rgb: pixels, width: w, height: h, into: &input)
            try model.det.stem(pixels: input, rgb: pixels, state: &split)
            try model.encoder.encode(input, state: &encoder)
            try model.det.forward(tokens: encoder.tokens, state: &split)
            try model.det.forward(pixels: input, rgb: pixels, tokens: encoder.tokens, state: &whole)
            #expect(split.maps == whole.maps && split.features == whole.features, "frame \(t)")
            #expect(throws: WeightsError.self, "frame \(t): a second forward without a new stem") {
                try model.det.forward(tokens: encoder.tokens, state: &split)
            }
        }
    }

    @Test("a file with an extra tensor, or a missing one, is refused by name")
    func strictLoading() throws {
        let file = try SafetensorsFile(path: TestFiles.fixture("model/golden-model.safetensors").path)
        var tensors: [(name: String, tensor: Tensor, dtype: ElementType)] = []
        for name in file.names { tensors.append((name, try file.tensor(name), .f32)) }
        let dir = try TestFiles.scratchDirectory()
        let extra = dir.appendingPathComponent("extra.safetensors").path
        let bytes = SafetensorsFile.encode(tensors + [("det.unexpected", Tensor(shape: [2]), .f32)], metadata: file.metadata)
        try Data(bytes).write(to: URL(fileURLWithPath: extra))
        #expect(throws: PipelineError.model(.unusedTensors(path: extra, names: ["det.unexpected"]))) {
            _ = try TrackingModel.load(path: extra)
        }
        let missing = dir.appendingPathComponent("missing.safetensors").path
        try Data(SafetensorsFile.encode(tensors.filter { $0.name != "act.fc2.bias" }, metadata: file.metadata)).write(to: URL(fileURLWithPath: missing))
        #expect(throws: PipelineError.model(.missingTensor(path: missing, tensor: "act.fc2.bias"))) {
            _ = try TrackingModel.load(path: missing)
        }
    }
}
