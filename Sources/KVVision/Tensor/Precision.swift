/// The number format of a model's Linear-layer weights and GEMMs.
///
/// `f32`: exact (OpenBLAS sgemm). `int8`: weights int8 per output channel, activations u8 per
/// row at run time, int32 accumulation (`PackedLinear`). `bf16`: weights and activations rounded
/// to bf16, f32 accumulation. Thread-safety: a value.
public enum Precision: String, Codable, Sendable, CaseIterable {
    case f32
    case bf16
    case int8
}
