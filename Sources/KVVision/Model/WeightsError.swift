/// Errors of the Model layer: reading a model file, its config, matching its tensors to the
/// encoder, and running it. Every case names the file and, where there is one, the tensor.
///
/// Thread-safety: immutable values.
public enum WeightsError: KVVisionError, Equatable {
    /// The file could not be opened or mapped.
    case cannotOpen(path: String, reason: String)
    /// Shorter than the 8-byte header length prefix.
    case truncated(path: String, size: Int)
    /// The header length points past the end of the file.
    case headerLengthPastEnd(path: String, headerLength: UInt64, fileSize: Int)
    /// The header is not a JSON object of the safetensors form.
    case headerNotJSON(path: String, reason: String)
    /// A tensor entry is malformed (missing or ill-typed `dtype`, `shape`, `data_offsets`).
    case badEntry(path: String, tensor: String, problem: String)
    /// A tensor has a dtype kvvision does not load.
    case unknownDtype(path: String, tensor: String, dtype: String)
    /// shape × dtype size differs from the tensor's byte span.
    case spanMismatch(path: String, tensor: String, shape: [Int], dtype: String, expectedBytes: Int, spanBytes: Int)
    /// A tensor's byte span lies outside the data section.
    case spanOutsideFile(path: String, tensor: String, begin: Int, end: Int, dataBytes: Int)
    /// Two tensors' byte spans overlap.
    case overlappingSpans(path: String, tensor: String, other: String)
    /// A tensor the model needs is absent.
    case missingTensor(path: String, tensor: String)
    /// A tensor has a shape other than the model needs.
    case wrongShape(path: String, tensor: String, expected: [Int], found: [Int])
    /// The `kvvision.config` metadata is not valid JSON of the config schema.
    case badConfig(path: String, reason: String)
    /// A config value is out of range (e.g. heads that do not divide dim).
    case invalidConfig(field: String, problem: String)
    /// A plain checkpoint's config cannot be inferred from its tensors.
    case cannotInferConfig(path: String, reason: String)
    /// An input to the encoder has the wrong shape.
    case badInput(expected: String, found: [Int])
    /// A tensor kernel rejected its operands (an internal inconsistency).
    case kernel(TensorError)
    /// The file holds tensors no part of the model uses (strict loading of a tracking model).
    case unusedTensors(path: String, names: [String])

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open model file: \(reason)"
        case let .truncated(path, size): return "\(path): truncated safetensors file (\(size) bytes, needs at least 8)"
        case let .headerLengthPastEnd(path, n, size): return "\(path): safetensors header length \(n) runs past the end of the file (\(size) bytes)"
        case let .headerNotJSON(path, reason): return "\(path): safetensors header is not a JSON object: \(reason)"
        case let .badEntry(path, tensor, problem): return "\(path): tensor '\(tensor)': \(problem)"
        case let .unknownDtype(path, tensor, dtype): return "\(path): tensor '\(tensor)' has unsupported dtype \(dtype) (F32, F16, BF16 load)"
        case let .spanMismatch(path, tensor, shape, dtype, expected, span):
            return "\(path): tensor '\(tensor)' shape \(shape) of \(dtype) needs \(expected) bytes but its data_offsets span \(span)"
        case let .spanOutsideFile(path, tensor, begin, end, data):
            return "\(path): tensor '\(tensor)' data_offsets [\(begin), \(end)] lie outside the \(data)-byte data section"
        case let .overlappingSpans(path, tensor, other): return "\(path): tensor '\(tensor)' overlaps tensor '\(other)'"
        case let .missingTensor(path, tensor): return "\(path): missing tensor '\(tensor)'"
        case let .wrongShape(path, tensor, expected, found): return "\(path): tensor '\(tensor)' has shape \(found), expected \(expected)"
        case let .badConfig(path, reason): return "\(path): bad kvvision.config metadata: \(reason)"
        case let .invalidConfig(field, problem): return "invalid model config: \(field): \(problem)"
        case let .cannotInferConfig(path, reason): return "\(path): cannot infer the model config: \(reason)"
        case let .badInput(expected, found): return "model input has shape \(found), expected \(expected)"
        case let .kernel(error): return "tensor kernel: \(error.description)"
        case let .unusedTensors(path, names):
            return "\(path): \(names.count) tensor(s) not used by the model: \(names.prefix(5).joined(separator: ", "))\(names.count > 5 ? ", …" : "")"
        }
    }
}
