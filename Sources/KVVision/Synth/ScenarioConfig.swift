/// The parameters of one ShapesWorld clip: frame size and rate, length, object count and
/// sizes, action kinematics, how often objects cross, leave and look alike, noise and clutter.
///
/// Defaults are the `standard` preset at 320×240, 25 fps, 10 s. Ranges encode as two-element
/// JSON arrays `[min, max]`. Invariants (checked by `validate()`): sizes even and 32…4096 (H.264
/// 4:2:0 needs even sides), rates in 0…1, ranges non-negative, object size at most half the
/// shorter side, at least one positive action weight. The same config and seed always give the
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
        case "easy":
            c.objects = 2...3
            c.objectSize = 28...64
            c.actionWeights = [1, 2, 0.5, 1, 1]
            c.occlusionRate = 0.1
            c.exitRate = 0.15
            c.lookalikeRate = 0
            c.noise = 2
            c.distractors = 0
            c.backgroundContrast = 0.3
            c.backgroundDrift = 1
        case "standard":
            break
        case "hard":
            c.objects = 5...8
            c.objectSize = 20...56
            c.actionWeights = [1, 1, 1.5, 1, 1]
            c.occlusionRate = 0.5
            c.exitRate = 0.5
            c.lookalikeRate = 0.6
            c.noise = 8
            c.distractors = 5
            c.backgroundContrast = 0.8
            c.backgroundDrift = 6
        default:
            throw .unknownPreset(name: name)
        }
        return c
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
        let maxSize = Double(min(width, height)) / 2
        try range(objectSize, "objectSize", 4...max(4, maxSize))
        try range(walkSpeed, "walkSpeed", 0...10_000)
        try range(runSpeed, "runSpeed", 0...10_000)
        try range(jumpHeight, "jumpHeight", 0...10_000)
        try range(jumpPeriod, "jumpPeriod", 0.05...60)
        try range(spinSpeed, "spinSpeed", 0...100_000)
        try range(segmentSeconds, "segmentSeconds", 0.01...3600)
        try check(actionWeights.count == ObjectAction.allCases.count && actionWeights.allSatisfy { $0.isFinite && $0 >= 0 }
                  && actionWeights.contains { $0 > 0 },
                  "actionWeights", "\(actionWeights)", "\(ObjectAction.allCases.count) non-negative weights, one positive")
        try rate(occlusionRate, "occlusionRate")
        try rate(exitRate, "exitRate")
        try rate(lookalikeRate, "lookalikeRate")
        try check(noise.isFinite && (0...64).contains(noise), "noise", "\(noise)", "a standard deviation in 0...64")
        try check((0...64).contains(distractors), "distractors", "\(distractors)", "a count in 0...64")
        try rate(backgroundContrast, "backgroundContrast")
        try check(backgroundDrift.isFinite && (0...100).contains(backgroundDrift), "backgroundDrift", "\(backgroundDrift)", "pixels per second in 0...100")
    }
}
