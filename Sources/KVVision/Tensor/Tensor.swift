/// A contiguous, row-major Float32 tensor.
///
/// Invariants: `storage.count == shape.reduce(1, *)`; every dimension is ≥ 0. The storage is a
/// Swift array, so copies are copy-on-write: kernels write in place through `withUnsafeMutable…`
/// and a tensor kept in per-stream scratch is reused frame after frame without reallocating.
///
/// Thread-safety: a value type; share immutable copies freely, mutate from one thread.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first.
    public private(set) var shape: [Int]
    /// Elements in row-major order.
    public var storage: [Float]

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor over existing elements; throws when the count does not match the shape.
    public init(shape: [Int], storage: [Float]) throws(TensorError) {
        let n = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), n == storage.count else {
            throw .elementCount(shape: shape, count: storage.count)
        }
        self.shape = shape
        self.storage = storage
    }

    /// Number of elements.
    public var count: Int { storage.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// Reinterprets the same elements under another shape with the same element count.
    public mutating func reshape(_ newShape: [Int]) throws(TensorError) {
        guard newShape.allSatisfy({ $0 >= 0 }), newShape.reduce(1, *) == storage.count else {
            throw .reshape(from: shape, to: newShape)
        }
        shape = newShape
    }

    /// Resizes to `newShape`, reusing the existing allocation when it is large enough.
    /// Contents are unspecified afterwards (zero for newly grown elements).
    public mutating func resize(_ newShape: [Int]) {
        let n = newShape.reduce(1, *)
        if n != storage.count {
            if n < storage.count { storage.removeLast(storage.count - n) }
            else { storage.append(contentsOf: repeatElement(0, count: n - storage.count)) }
        }
        shape = newShape
    }

    /// Address of the first element: identifies the allocation, so tests can check that a
    /// buffer was reused rather than reallocated.
    var storageAddress: Int { storage.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }

    /// Element access by full index (slow path; for tests and small bookkeeping).
    public subscript(_ index: Int...) -> Float {
        get { storage[offset(index)] }
        set { storage[offset(index)] = newValue }
    }

    private func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index rank \(index.count) for shape \(shape)")
        var o = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of bounds for shape \(shape)")
            o = o * d + i
        }
        return o
    }
}

/// Errors of the Tensor layer.
public enum TensorError: KVVisionError, Equatable {
    /// A shape and an element count disagree.
    case elementCount(shape: [Int], count: Int)
    /// A reshape would change the element count.
    case reshape(from: [Int], to: [Int])
    /// An operation got operands whose shapes do not fit.
    case shapeMismatch(op: String, expected: [Int], found: [Int])
    /// A file could not be opened, read, mapped or written.
    case io(path: String, message: String)
    /// A `.npy` file is not a float32, little-endian, C-order array this reader accepts.
    case npyFormat(path: String, problem: String)
    /// A kernel instruction set was asked for (e.g. by `KVVISION_ISA`) that is unknown or that
    /// the CPU cannot run.
    case kernelISA(setting: String, problem: String)

    public var description: String {
        switch self {
        case let .elementCount(shape, count):
            return "tensor shape \(shape) needs \(shape.reduce(1, *)) elements, got \(count)"
        case let .reshape(from, to):
            return "cannot reshape tensor \(from) to \(to): element counts differ"
        case let .shapeMismatch(op, expected, found):
            return "\(op): expected shape \(expected), found \(found)"
        case let .io(path, message):
            return "\(path): \(message)"
        case let .npyFormat(path, problem):
            return "\(path): not a supported .npy file: \(problem)"
        case let .kernelISA(setting, problem):
            return "\(setting): \(problem)"
        }
    }
}
