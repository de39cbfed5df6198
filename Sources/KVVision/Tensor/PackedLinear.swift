import CKernels

/// A Linear layer's weight `[out, in]` quantised once (int8 per output channel, or bf16) and
/// prepacked for the CKernels micro-kernels; `apply` computes `c = a · wᵀ (+ bias) (+ c)`.
///
/// int8: `w ≈ s_j · q` with `q` in ±`isa.int8WeightMax` per output channel j; each call quantises
/// the rows of `a` to u8 (`a ≈ s_i (u − z_i)`), accumulates in int32 and dequantises with the
/// bias in the kernel's epilogue (see `qgemm.h`). bf16: round to bf16, accumulate in f32. Rows
/// are split over the context's pool (chunks of ≥ 32 rows, one per thread) in every GEMM mode.
/// The f32 weight is not kept: packing replaces it (the packed form is ¼ (int8) or ½ (bf16) the
/// bytes).
///
/// Invariants: `isa` supports `precision` (and is what the weights were packed for).
/// Thread-safety: immutable and `Sendable`; callers own their `Scratch`.
public struct PackedLinear: Sendable {
    /// Output and input features.
    public let outFeatures: Int, inFeatures: Int
    public let precision: Precision
    /// The kernel that runs the GEMM (the weights were packed for it, or for one with a smaller
    /// int8 weight range; see `running(on:)`).
    public private(set) var isa: KernelISA
    /// Largest |int8 weight| of the packing (0 for bf16).
    public let weightMax: Int32
    private let int8: [Int8]
    private let bf16: [UInt16]
    private let scales: [Float]
    private let colsums: [Int32]

    /// Per-caller scratch: the quantised activation rows. Grows to the largest call, then is reused.
    public struct Scratch: Sendable {
        var codes: [UInt8] = []
        var halves: [UInt16] = []
        var rowScales: [Float] = []
        var rowZeros: [Int32] = []
        public init() {}
    }

    /// Packs `weight`, `[out, in]` (a PyTorch `Linear.weight`), or `[in, out]` when `transposed`.
    /// `precision` must be `.int8` or `.bf16`; `isa` defaults to the process's selection.
    public init(weight: Tensor, transposed: Bool = false, precision: Precision, isa: KernelISA? = nil) throws(TensorError) {
        guard weight.rank == 2 else { throw .shapeMismatch(op: "packed linear weight", expected: [-1, -1], found: weight.shape) }
        let (n, k) = transposed ? (weight.shape[1], weight.shape[0]) : (weight.shape[0], weight.shape[1])
        let (sn, sk) = transposed ? (1, n) : (k, 1)
        let selected = try KernelISA.selected()
        outFeatures = n
        inFeatures = k
        self.precision = precision
        let np = Int(kvv_gemm_npad(n))
        switch precision {
        case .int8:
            let isa = isa ?? selected.int8
            guard isa.hasInt8, isa.supported else { throw .kernelISA(setting: isa.rawValue, problem: "no int8 kernel for this CPU") }
            self.isa = isa
            weightMax = isa.int8WeightMax
            let kp = Int(kvv_q8_kpad(k))
            var packed = [Int8](repeating: 0, count: np * kp), s = [Float](repeating: 0, count: np), c = [Int32](repeating: 0, count: np)
            weight.storage.withUnsafeBufferPointer { w in
                _ = kvv_q8_pack(w.baseAddress!, sn, sk, n, k, isa.int8WeightMax, &packed, &s, &c)
            }
            int8 = packed
            bf16 = []
            scales = s
            colsums = c
        case .bf16:
            let isa = isa ?? selected.bf16
            guard isa.hasBF16, isa.supported else { throw .kernelISA(setting: isa.rawValue, problem: "no bf16 kernel for this CPU") }
            self.isa = isa
            weightMax = 0
            var packed = [UInt16](repeating: 0, count: np * Int(kvv_bf16_kpad(k)))
            weight.storage.withUnsafeBufferPointer { w in kvv_bf16_pack(w.baseAddress!, sn, sk, n, k, &packed) }
            int8 = []
            bf16 = packed
            scales = []
            colsums = []
        case .f32:
            throw .kernelISA(setting: "precision f32", problem: "f32 weights are not packed (use GEMM.matmul)")
        }
    }

    /// The same packed weights run by another kernel (for tests that compare paths): int8 needs a
    /// kernel whose weight range covers this packing (`reference` and VNNI run AVX2's 7-bit
    /// packing, and every packing runs on the reference).
    public func running(on other: KernelISA) throws(TensorError) -> PackedLinear {
        let fits = precision == .int8 ? other.hasInt8 && other.int8WeightMax >= weightMax : other.hasBF16
        guard fits, other.supported else {
            throw .kernelISA(setting: other.rawValue, problem: "cannot run \(precision.rawValue) weights packed for \(isa.rawValue) on this CPU")
        }
        var copy = self
        copy.isa = other
        return copy
    }

    /// The int8 packing (packed weights, per-channel scales, column sums) for a kernel that reads
    /// it directly (`Int8Conv2D`); nil pointers for a bf16 packing.
    func withInt8Weights<R>(_ body: (UnsafePointer<Int8>?, UnsafePointer<Float>?, UnsafePointer<Int32>?) -> R) -> R {
        int8.withUnsafeBufferPointer { w in
            scales.withUnsafeBufferPointer { s in colsums.withUnsafeBufferPointer { c in body(w.baseAddress, s.baseAddress, c.baseAddress) } }
        }
    }

    /// Bytes of the packed weight and its per-channel tables.
    public var bytes: Int { int8.count + 2 * bf16.count + 4 * scales.count + 4 * colsums.count }

    /// `c[m, out] = a[m, in] · wᵀ (+ bias) (+ c when accumulate)`; `a` may have any rank whose
    /// trailing dimension is `inFeatures`; `c` is resized to `a`'s leading shape + [out].
    /// `skippingRows` leaves out the first rows of a 2-D `a` (e.g. a class token) without a copy:
    /// `c` is then `[a.shape[0] − skippingRows, out]`.
    public func apply(_ a: Tensor, bias: Tensor? = nil, into c: inout Tensor, accumulate: Bool = false,
                      skippingRows skip: Int = 0, scratch: inout Scratch, context: ComputeContext = .serial) throws(TensorError) {
        let k = inFeatures, n = outFeatures
        guard a.rank >= 1, a.shape[a.rank - 1] == k else {
            throw .shapeMismatch(op: "packed linear input", expected: [-1, k], found: a.shape)
        }
        guard skip == 0 || (a.rank == 2 && skip <= a.shape[0]), skip >= 0 else {
            throw .shapeMismatch(op: "packed linear input skipping \(skip) rows", expected: [skip, k], found: a.shape)
        }
        if let bias, bias.count != n { throw .shapeMismatch(op: "packed linear bias", expected: [n], found: bias.shape) }
        let m = k == 0 ? 0 : a.count / k - skip
        let outShape = skip == 0 ? Array(a.shape.dropLast()) + [n] : [m, n]
        if accumulate {
            guard c.shape == outShape else { throw .shapeMismatch(op: "packed linear accumulate", expected: outShape, found: c.shape) }
        } else {
            c.resize(outShape)
        }
        guard m > 0, n > 0 else { return }
        let kp = precision == .int8 ? Int(kvv_q8_kpad(k)) : Int(kvv_bf16_kpad(k))
        if precision == .int8 {
            if scratch.codes.count < m * kp { scratch.codes = [UInt8](repeating: 0, count: m * kp) }
            if scratch.rowScales.count < m {
                scratch.rowScales = [Float](repeating: 0, count: m)
                scratch.rowZeros = [Int32](repeating: 0, count: m)
            }
        } else if scratch.halves.count < m * kp {
            scratch.halves = [UInt16](repeating: 0, count: m * kp)
        }
        let chunks = context.poolChunks(m: m)
        if chunks > 1 { context.noteSplitGEMM(chunks: chunks) }
        let size = (m + chunks - 1) / chunks
        let isaCode = isa.code, int8Mode = precision == .int8
        let biasStorage = bias?.storage ?? []
        a.storage.withUnsafeBufferPointer { ap in
            c.storage.withUnsafeMutableBufferPointer { cp in
                biasStorage.withUnsafeBufferPointer { bp in
                    scratch.codes.withUnsafeMutableBufferPointer { qp in
                        scratch.halves.withUnsafeMutableBufferPointer { hp in
                            scratch.rowScales.withUnsafeMutableBufferPointer { sp in
                                scratch.rowZeros.withUnsafeMutableBufferPointer { zp in
                                    int8.withUnsafeBufferPointer { wp in
                                        bf16.withUnsafeBufferPointer { wh in
                                            scales.withUnsafeBufferPointer { ws in
                                                colsums.withUnsafeBufferPointer { wc in
                                                    nonisolated(unsafe) let (a, c, q, h, s, z) = (ap.baseAddress! + skip * k, cp.baseAddress!, qp.baseAddress, hp.baseAddress,
                                                                                                  sp.baseAddress, zp.baseAddress)
                                                    nonisolated(unsafe) let (w8, w16, wsc, wcs) = (wp.baseAddress, wh.baseAddress, ws.baseAddress, wc.baseAddress)
                                                    nonisolated(unsafe) let b = bias == nil ? nil : bp.baseAddress
                                                    let run = { (r0: Int, r1: Int) in
                                                        if int8Mode {
                                                            kvv_q8_gemm(isaCode, w8, wsc, wcs, n, k, a + r0 * k, k, r1 - r0, q! + r0 * kp, s! + r0, z! + r0,
                                                                        c + r0 * n, n, b, accumulate ? 1 : 0)
                                                        } else {
                                                            kvv_bf16_gemm(isaCode, w16, n, k, a + r0 * k, k, r1 - r0, h! + r0 * kp, c + r0 * n, n, b, accumulate ? 1 : 0)
                                                        }
                                                    }
                                                    if chunks == 1 {
                                                        run(0, m)
                                                    } else {
                                                        context.pool.run(chunks) { i in
                                                            let r0 = i * size, r1 = min(m, r0 + size)
                                                            if r0 < r1 { run(r0, r1) }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
