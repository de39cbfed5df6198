/// Measures how far a lossy window setting (f16/int8 storage, `merge`, `sinks`) moves the temporal
/// attention output away from the exact `fifo`/f32 output, on the same stream.
///
/// Runs two states of one model side by side, frame by frame, and accumulates the absolute
/// difference of every output element. Thread-safety: a value type; one thread.
public struct WindowErrorProbe: Sendable {
    /// Largest absolute difference seen.
    public private(set) var maxError: Double = 0
    /// Mean absolute difference over all output elements.
    public var meanError: Double { elements == 0 ? 0 : sum / Double(elements) }
    /// Largest absolute exact output value (to put the errors in scale).
    public private(set) var maxExact: Double = 0
    /// Frames compared.
    public private(set) var frames = 0
    private var sum: Double = 0
    private var elements = 0
    private var exact: TemporalState
    private var lossy: TemporalState
    private let model: TemporalAttention

    /// Compares `candidate` against `reference` (default: the same window shape with `fifo` and
    /// f32 storage — the exact output).
    public init(model: TemporalAttention, candidate: KVWindowConfig, reference: KVWindowConfig? = nil) throws(TemporalError) {
        var exactConfig = candidate
        exactConfig.policy = .fifo
        exactConfig.storage = .f32
        exactConfig.keyScales = .perToken
        let reference = reference ?? exactConfig
        self.model = model
        exact = try model.makeState(window: reference)
        lossy = try model.makeState(window: candidate)
    }

    /// Feeds one frame to both states and accumulates the difference.
    public mutating func step(tokens: Tensor, frame: Int, owners: [Int]? = nil) throws(TemporalError) {
        let a = try model.step(&exact, tokens: tokens, frame: frame, owners: owners)
        let b = try model.step(&lossy, tokens: tokens, frame: frame, owners: owners)
        for (x, y) in zip(a.storage, b.storage) {
            let e = Double(abs(x - y))
            maxError = max(maxError, e)
            maxExact = max(maxExact, Double(abs(x)))
            sum += e
        }
        elements += a.count
        frames += 1
    }

    /// Slots the candidate window holds now (fewer than the reference's under `merge`).
    public var candidateResidentSlots: Int { lossy.window.residentSlots }
}
