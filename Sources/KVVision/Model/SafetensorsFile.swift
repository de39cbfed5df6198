import Foundation

/// A memory-mapped `.safetensors` file with a fully validated header.
///
/// Format: 8-byte little-endian header length N, then N bytes of UTF-8 JSON, then the data
/// section. The JSON is an object mapping tensor names to `{"dtype", "shape", "data_offsets":
/// [begin, end]}` (offsets relative to the data section) plus an optional `"__metadata__"`
/// object of string → string. Validated on open: N fits in the file (and ≤ 100 MB), the header
/// parses as that object, every dtype is F32/F16/BF16, every shape is non-negative integers
/// whose product × element size equals `end − begin`, every span lies inside the data section,
/// and no two spans overlap. Each failure is a `WeightsError` naming the tensor.
///
/// Thread-safety: immutable after init; `tensor(_:)` may be called from any thread.
public final class SafetensorsFile: Sendable {
    /// One tensor's header entry.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: ElementType
        public let shape: [Int]
        /// Byte range within the data section.
        public let span: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    /// Entries by name.
    public let entries: [String: Entry]
    /// `__metadata__` strings.
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Opens and validates `path`.
    public init(path: String) throws(WeightsError) {
        self.path = path
        do { file = try MappedFile(path: path) } catch {
            if case let .io(_, message) = error { throw .cannotOpen(path: path, reason: message) }
            throw .cannotOpen(path: path, reason: error.description)
        }
        guard let n = file.uint64LE(at: 0) else { throw .truncated(path: path, size: file.size) }
        guard n <= UInt64(file.size - 8), n <= 100_000_000 else {
            throw .headerLengthPastEnd(path: path, headerLength: n, fileSize: file.size)
        }
        dataStart = 8 + Int(n)
        let dataBytes = file.size - dataStart
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(file.bytes(8..<dataStart)), options: []) } catch {
            throw .headerNotJSON(path: path, reason: "invalid JSON")
        }
        guard let object = json as? [String: Any] else { throw .headerNotJSON(path: path, reason: "top level is not an object") }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let meta = value as? [String: Any] else { throw .headerNotJSON(path: path, reason: "__metadata__ is not an object") }
                for (k, v) in meta {
                    guard let s = v as? String else { throw .headerNotJSON(path: path, reason: "__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            entries[name] = try Self.entry(name, value, path: path, dataBytes: dataBytes)
        }
        let sorted = entries.values.sorted { ($0.span.lowerBound, $0.span.upperBound, $0.name) < ($1.span.lowerBound, $1.span.upperBound, $1.name) }
        var previous: Entry?
        for e in sorted where !e.span.isEmpty {
            if let p = previous, e.span.lowerBound < p.span.upperBound { throw .overlappingSpans(path: path, tensor: e.name, other: p.name) }
            previous = e
        }
        self.entries = entries
        self.metadata = metadata
    }

    private static func entry(_ name: String, _ value: Any, path: String, dataBytes: Int) throws(WeightsError) -> Entry {
        guard let dict = value as? [String: Any] else { throw .badEntry(path: path, tensor: name, problem: "entry is not an object") }
        guard let dtypeName = dict["dtype"] as? String else { throw .badEntry(path: path, tensor: name, problem: "missing dtype") }
        guard let dtype = ElementType(rawValue: dtypeName) else { throw .unknownDtype(path: path, tensor: name, dtype: dtypeName) }
        guard let shapeAny = dict["shape"] as? [Any] else { throw .badEntry(path: path, tensor: name, problem: "missing shape") }
        var shape: [Int] = []
        var count = 1
        for d in shapeAny {
            guard let n = Self.integer(d), n >= 0 else { throw .badEntry(path: path, tensor: name, problem: "shape \(shapeAny) is not non-negative integers") }
            let (p, o) = count.multipliedReportingOverflow(by: n)
            guard !o, p <= 1 << 40 else { throw .badEntry(path: path, tensor: name, problem: "shape \(shapeAny) is too large") }
            count = p
            shape.append(n)
        }
        guard let offs = dict["data_offsets"] as? [Any], offs.count == 2, let begin = Self.integer(offs[0]), let end = Self.integer(offs[1]),
              begin >= 0, end >= begin else {
            throw .badEntry(path: path, tensor: name, problem: "data_offsets must be [begin, end] with 0 ≤ begin ≤ end")
        }
        let expected = count * dtype.byteSize
        guard expected == end - begin else {
            throw .spanMismatch(path: path, tensor: name, shape: shape, dtype: dtypeName, expectedBytes: expected, spanBytes: end - begin)
        }
        guard end <= dataBytes else { throw .spanOutsideFile(path: path, tensor: name, begin: begin, end: end, dataBytes: dataBytes) }
        return Entry(name: name, dtype: dtype, shape: shape, span: begin..<end)
    }

    private static func integer(_ v: Any) -> Int? {
        if let n = v as? NSNumber {
            // Reject booleans and non-integral numbers.
            if String(cString: n.objCType) == "c" { return nil }
            let d = n.doubleValue
            guard d.rounded() == d, abs(d) < 9e15 else { return nil }
            return n.intValue
        }
        return nil
    }

    /// The tensor `name` decoded to Float32.
    public func tensor(_ name: String) throws(WeightsError) -> Tensor {
        guard let e = entries[name] else { throw .missingTensor(path: path, tensor: name) }
        let values = file.floats(at: dataStart + e.span.lowerBound, count: e.count, type: e.dtype)
        do { return try Tensor(shape: e.shape, storage: values) } catch { throw .kernel(error) }
    }

    /// The tensor `name`, checked to have `shape`.
    public func tensor(_ name: String, shape: [Int]) throws(WeightsError) -> Tensor {
        guard let e = entries[name] else { throw .missingTensor(path: path, tensor: name) }
        guard e.shape == shape else { throw .wrongShape(path: path, tensor: name, expected: shape, found: e.shape) }
        return try tensor(name)
    }

    /// Serialises tensors (each stored as `dtype`) and metadata as safetensors bytes, in the order given.
    public static func encode(_ tensors: [(name: String, tensor: Tensor, dtype: ElementType)], metadata: [String: String] = [:]) -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var data: [UInt8] = []
        for t in tensors {
            let bytes = t.dtype.encode(t.tensor.storage)
            header[t.name] = ["dtype": t.dtype.rawValue, "shape": t.tensor.shape, "data_offsets": [data.count, data.count + bytes.count]] as [String: Any]
            data += bytes
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])).map { [UInt8]($0) } ?? Array("{}".utf8)
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        let length = UInt64(json.count)
        let prefix = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }  // u64 little-endian
        return prefix + json + data
    }
}
