import Foundation

/// A read-only memory map of a whole file, and decoding of its little-endian numeric spans into
/// Float32 (F32, F16, BF16 element types).
///
/// Invariants: `size` is the file size at open time; the mapping lives exactly as long as this
/// object (munmap in deinit). An empty file is represented without a mapping.
///
/// Thread-safety: immutable after init; reads from any thread are safe.
public final class MappedFile: @unchecked Sendable {
    /// Path the file was opened from.
    public let path: String
    /// Size in bytes.
    public let size: Int
    private let base: UnsafeRawPointer?

    /// Maps `path` read-only; throws `TensorError.io` when it cannot be opened or mapped.
    public init(path: String) throws(TensorError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, message: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .io(path: path, message: "not a regular file") }
        size = Int(st.st_size)
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw .io(path: path, message: "mmap failed: " + String(cString: strerror(errno))) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// Bytes in `range` (clamped to the file).
    public func bytes(_ range: Range<Int>) -> [UInt8] {
        let lo = max(0, min(range.lowerBound, size)), hi = max(lo, min(range.upperBound, size))
        guard let base, hi > lo else { return [] }
        return Array(UnsafeRawBufferPointer(start: base + lo, count: hi - lo))
    }

    /// Little-endian UInt64 at `offset`, or nil when the file is too short.
    public func uint64LE(at offset: Int) -> UInt64? {
        guard let base, offset >= 0, offset + 8 <= size else { return nil }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Decodes `count` elements of `type` starting at byte `offset` into Float32.
    /// The caller has validated that the span lies inside the file.
    public func floats(at offset: Int, count: Int, type: ElementType) -> [Float] {
        guard let base, count > 0, offset >= 0, offset + count * type.byteSize <= size else { return [] }
        let p = base + offset
        return [Float](unsafeUninitializedCapacity: count) { buf, initialized in
            switch type {
            case .f32:
                for i in 0..<count { buf[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            case .f16:
                for i in 0..<count { buf[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))) }
            case .bf16:
                for i in 0..<count { buf[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) << 16) }
            }
            initialized = count
        }
    }
}

/// Element types of stored tensors that kvvision can load (compute is always Float32).
public enum ElementType: String, Sendable, CaseIterable, Codable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element.
    public var byteSize: Int { self == .f32 ? 4 : 2 }

    /// Encodes Float32 values as little-endian bytes of this type (round to nearest even).
    public func encode(_ values: [Float]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(values.count * byteSize)
        for v in values {
            switch self {
            case .f32:
                let b = v.bitPattern.littleEndian
                withUnsafeBytes(of: b) { out.append(contentsOf: $0) }
            case .f16:
                let b = Float16(v).bitPattern.littleEndian
                withUnsafeBytes(of: b) { out.append(contentsOf: $0) }
            case .bf16:
                let bits = v.bitPattern
                let rounded = UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16).littleEndian
                withUnsafeBytes(of: rounded) { out.append(contentsOf: $0) }
            }
        }
        return out
    }
}
