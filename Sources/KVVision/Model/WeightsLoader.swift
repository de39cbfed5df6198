/// Takes the tensors a model needs out of a `SafetensorsFile`, checking each one's presence and
/// shape, and reports the tensors nobody took.
///
/// Invariants: every tensor returned has exactly the requested shape; `unused` lists file tensors
/// not requested so far, sorted. Reshapes only where the element count matches (e.g. a conv
/// weight `[D, 3, p, p]` taken as `[D, 3·p·p]`).
///
/// Thread-safety: a value type; use from one thread.
public struct WeightsLoader {
    public let file: SafetensorsFile
    private var taken: Set<String> = []

    public init(file: SafetensorsFile) { self.file = file }

    /// The tensor `name` with the stored shape `shape`, reshaped to `as` when given.
    public mutating func take(_ name: String, shape: [Int], as view: [Int]? = nil) throws(WeightsError) -> Tensor {
        var t = try file.tensor(name, shape: shape)
        taken.insert(name)
        if let view {
            do { try t.reshape(view) } catch { throw .kernel(error) }
        }
        return t
    }

    /// File tensors not taken, sorted.
    public var unused: [String] { file.names.filter { !taken.contains($0) } }
}
