/// The parameters of one ShapesWorld clip: frame size and rate, length, object count and
/// sizes, action kinematics, how often objects cross, leave and look alike, noise and clutter.
///
/// Defaults are the `standard` preset at 320×240, 25 fps, 10 s. Ranges encode as two-element
/// JSON arrays `[min, max]`. Invariants (checked by `validate()`): sizes even and 32…4096 (H.264
/// 4:2:0 needs even sides), rates in 0…1, ranges non-negative, object size at most half the
/// shorter side, at least one positive action weight, frames × most objects ≤ 4,000,000. The same config and seed always give the
/// same clip.
///
/// Thread-safety: a value type, `Sendable`.
public struct ScenarioConfig: Codable, Sendable, Equatable {
    /// Name of the preset this config started from (`easy`, `standard`, `hard`), for the record.
    public var preset: String = "standard"
    /// Frame width in pixels (even, 32…4096). Default 320.
    public var width: Int = 320
    /// Frame height in pixels (even, 32…4096). Default 240.
    public var height: Int = 240
    /// Frames per second (1…240). Default 25.
    public var fps: Int = 25
    /// Clip length in seconds (> 0, at most 3600). Default 10.
    public var duration: Double = 10
    /// Number of objects in the scene, inclusive (0…64). Default 3…5.
    public var objects: ClosedRange<Int> = 3...5
    /// Object size in pixels: circle diameter, square side, triangle side, cross arm span. Default 20…64.
    public var objectSize: ClosedRange<Double> = 20...64
    /// `walk` speed in pixels per second. Default 20…60.
    public var walkSpeed: ClosedRange<Double> = 20...60
    /// `run` speed in pixels per second. Default 100…200.
    public var runSpeed: ClosedRange<Double> = 100...200
    /// `jump` hop height in pixels. Default 10…30.
    public var jumpHeight: ClosedRange<Double> = 10...30
    /// `jump` hop period in seconds. Default 0.5…1.
    public var jumpPeriod: ClosedRange<Double> = 0.5...1.0
    /// `spin` angular speed in degrees per second. Default 180…540.
    public var spinSpeed: ClosedRange<Double> = 180...540
    /// Length of one action segment in seconds. Default 1…4.
    public var segmentSeconds: ClosedRange<Double> = 1...4
    /// Relative weights of `idle, walk, run, jump, spin` when a new segment starts. Default all 1.
    public var actionWeights: [Double] = [1, 1, 1, 1, 1]
    /// Probability that a moving segment heads straight for another object (crossings, occlusion). Default 0.3.
    public var occlusionRate: Double = 0.3
    /// Probability that a moving object reaching an edge leaves the frame (and later comes back) instead of bouncing. Default 0.35.
    public var exitRate: Double = 0.35
    /// Probability that an object copies the class and colour of an earlier, still unpaired one and starts next to it (look-alike pairs). Default 0.3.
    public var lookalikeRate: Double = 0.3
    /// Sensor noise: standard deviation in 8-bit levels per channel (0…64). Default 4.
    public var noise: Double = 4
    /// Number of moving distractor blobs, drawn behind the objects and absent from the ground truth (0…64). Default 2.
    public var distractors: Int = 2
    /// Contrast of the background texture (0…1). Default 0.5.
    public var backgroundContrast: Double = 0.5
    /// Speed of the background's slow drift in pixels per second (0…100). Default 3.
    public var backgroundDrift: Double = 3

    public init() {}

    /// JSON keys: snake_case, like every file kvvision reads or writes.
    private enum CodingKeys: String, CodingKey, CaseIterable {
        case preset, width, height, fps, duration, objects, objectSize = "object_size", walkSpeed = "walk_speed"
        case runSpeed = "run_speed", jumpHeight = "jump_height", jumpPeriod = "jump_period", spinSpeed = "spin_speed"
        case segmentSeconds = "segment_seconds", actionWeights = "action_weights", occlusionRate = "occlusion_rate"
        case exitRate = "exit_rate", lookalikeRate = "lookalike_rate", noise, distractors
        case backgroundContrast = "background_contrast", backgroundDrift = "background_drift"
    }

    /// Any JSON key, to find the ones a scenario does not know.
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes a scenario; every key is optional: missing ones take the value of the named
    /// `preset` (default `standard`); an unknown key (a typo, or a camelCase key of an older
    /// kvvision) is an error rather than silently ignored. Does not validate; call `validate()`.
    public init(from decoder: any Decoder) throws {
        let any = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = any.allKeys.first(where: { CodingKeys(stringValue: $0.stringValue) == nil }) {
            throw DecodingError.dataCorruptedError(forKey: unknown, in: any, debugDescription:
                "unknown key (scenario keys: \(CodingKeys.allCases.map(\.stringValue).joined(separator: ", ")))")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decodeIfPresent(String.self, forKey: .preset) ?? "standard"
        do { self = try Self.preset(name) } catch {
            throw DecodingError.dataCorruptedError(forKey: .preset, in: c, debugDescription: error.description)
        }
        func read<T: Decodable>(_ key: CodingKeys, _ field: inout T) throws {
            if let value = try c.decodeIfPresent(T.self, forKey: key) { field = value }
        }
        try read(.width, &width); try read(.height, &height); try read(.fps, &fps); try read(.duration, &duration)
        try read(.objects, &objects); try read(.objectSize, &objectSize); try read(.walkSpeed, &walkSpeed)
        try read(.runSpeed, &runSpeed); try read(.jumpHeight, &jumpHeight); try read(.jumpPeriod, &jumpPeriod)
        try read(.spinSpeed, &spinSpeed); try read(.segmentSeconds, &segmentSeconds); try read(.actionWeights, &actionWeights)
        try read(.occlusionRate, &occlusionRate); try read(.exitRate, &exitRate); try read(.lookalikeRate, &lookalikeRate)
        try read(.noise, &noise); try read(.distractors, &distractors)
        try read(.backgroundContrast, &backgroundContrast); try read(.backgroundDrift, &backgroundDrift)
    }

    /// The number of frames: `duration × fps`, rounded, at least 1.
    public var frames: Int { max(1, Int((duration * Double(fps)).rounded())) }

    /// The preset names, easiest first.
    public static let presetNames = ["easy", "standard", "hard"]

    /// A difficulty preset at 320×240, 25 fps, 10 s.
    ///
    /// - `easy`: 2–3 objects, mostly slow motion, little noise, no distractors, rare exits, no look-alikes.
    /// - `standard`: 3–5 objects, every action equally likely, some crossings, exits and look-alikes.
    /// - `hard`: 5–8 objects, more running, frequent crossings, exits and look-alikes, strong noise,
    ///   high-contrast drifting background, 5 distractors.
    public static func preset(_ name: String) throws(SynthError) -> ScenarioConfig {
        var c = ScenarioConfig()
        c.preset = name
        switch name {
        case "easy": c.setDifficulty(2...3, 28...64, [1, 2, 0.5, 1, 1], rates: (0.1, 0.15, 0), noise: 2, distractors: 0, background: (0.3, 1))
        case "standard": break  // the defaults
        case "hard": c.setDifficulty(5...8, 20...56, [1, 1, 1.5, 1, 1], rates: (0.5, 0.5, 0.6), noise: 8, distractors: 5, background: (0.8, 6))
        default: throw .unknownPreset(name: name)
        }
        return c
    }

    /// Sets the parameters that differ between presets; `rates` are (occlusion, exit, look-alike),
    /// `background` is (contrast, drift).
    private mutating func setDifficulty(_ objects: ClosedRange<Int>, _ sizes: ClosedRange<Double>, _ weights: [Double],
                                        rates: (Double, Double, Double), noise: Double, distractors: Int, background: (Double, Double)) {
        self.objects = objects
        objectSize = sizes
        actionWeights = weights
        (occlusionRate, exitRate, lookalikeRate) = rates
        self.noise = noise
        self.distractors = distractors
        (backgroundContrast, backgroundDrift) = background
    }

    /// Checks every documented range; throws the first violation.
    public func validate() throws(SynthError) {
        func check(_ ok: Bool, _ name: String, _ value: String, _ expected: String) throws(SynthError) {
            if !ok { throw .invalidParameter(name: name, value: value, expected: expected) }
        }
        func range(_ r: ClosedRange<Double>, _ name: String, _ limit: ClosedRange<Double>) throws(SynthError) {
            try check(r.lowerBound.isFinite && r.upperBound.isFinite && limit.contains(r.lowerBound) && limit.contains(r.upperBound),
                      name, "\(r.lowerBound)...\(r.upperBound)", "a range within \(limit.lowerBound)...\(limit.upperBound)")
        }
        func rate(_ v: Double, _ name: String) throws(SynthError) {
            try check(v.isFinite && (0...1).contains(v), name, "\(v)", "a probability in 0...1")
        }
        try check((32...4096).contains(width) && width % 2 == 0, "width", "\(width)", "an even number of pixels in 32...4096")
        try check((32...4096).contains(height) && height % 2 == 0, "height", "\(height)", "an even number of pixels in 32...4096")
        try check((1...240).contains(fps), "fps", "\(fps)", "frames per second in 1...240")
        try check(duration.isFinite && duration > 0 && duration <= 3600, "duration", "\(duration)", "seconds in (0, 3600]")
        try check(objects.lowerBound >= 0 && objects.upperBound <= 64, "objects", "\(objects.lowerBound)-\(objects.upperBound)", "a count range within 0...64")
        // The scene plan holds one pose per object and frame: keep it under ~100 MB.
        try check(frames * max(1, objects.upperBound) <= 4_000_000, "duration", "\(duration) s at \(fps) fps with up to \(objects.upperBound) objects",
                  "at most 4,000,000 object-frames (frames × most objects)")
        let maxSize = Double(min(width, height)) / 2
        try range(objectSize, "object_size", 4...max(4, maxSize))
        try range(walkSpeed, "walk_speed", 0...10_000)
        try range(runSpeed, "run_speed", 0...10_000)
        try range(jumpHeight, "jump_height", 0...10_000)
        try range(jumpPeriod, "jump_period", 0.05...60)
        try range(spinSpeed, "spin_speed", 0...100_000)
        try range(segmentSeconds, "segment_seconds", 0.01...3600)
        try check(actionWeights.count == ObjectAction.allCases.count && actionWeights.allSatisfy { $0.isFinite && $0 >= 0 }
                  && actionWeights.contains { $0 > 0 },
                  "action_weights", "\(actionWeights)", "\(ObjectAction.allCases.count) non-negative weights, one positive")
        try rate(occlusionRate, "occlusion_rate")
        try rate(exitRate, "exit_rate")
        try rate(lookalikeRate, "lookalike_rate")
        try check(noise.isFinite && (0...64).contains(noise), "noise", "\(noise)", "a standard deviation in 0...64")
        try check((0...64).contains(distractors), "distractors", "\(distractors)", "a count in 0...64")
        try rate(backgroundContrast, "background_contrast")
        try check(backgroundDrift.isFinite && (0...100).contains(backgroundDrift), "background_drift", "\(backgroundDrift)", "pixels per second in 0...100")
    }
}
