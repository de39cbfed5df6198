/// Vectorised elementary functions on 16-lane Float vectors, accurate to a few ulp.
///
/// `exp` is the Cephes single-precision algorithm (range reduction by ln 2 in two parts, degree-6
/// polynomial, 2^n by exponent bits; inputs clamped to [-87.3, 88.3]). `erf` is the rational
/// approximation used by Eigen and XLA for float (odd degree-13 over even degree-8 polynomial,
/// inputs clamped to [-4, 4] where erf is ±1 in float). Both are exact to float rounding for the
/// purposes of the encoder (max abs error of erf ≈ 1e-7).
///
/// Thread-safety: pure functions.
enum VectorMath {
    typealias V = SIMD16<Float>

    typealias I = SIMD16<Int32>

    // Only operations the standard library lowers to vector instructions on concrete SIMD16
    // types are used (float arithmetic, comparisons, Int32 and/xor/add/mul): the generic
    // `clamped`, `rounded` and Float→Int conversions compile to scalar loops.

    /// `mask ? a : b` lane by lane, through integer bit operations.
    @inline(__always)
    static func select(_ mask: SIMDMask<I>, _ a: V, _ b: V) -> V {
        let m = unsafeBitCast(mask, to: I.self)
        let ai = unsafeBitCast(a, to: I.self), bi = unsafeBitCast(b, to: I.self)
        return unsafeBitCast(bi ^ ((ai ^ bi) & m), to: V.self)
    }

    @inline(__always)
    static func clamp(_ x: V, _ lo: Float, _ hi: Float) -> V {
        let l = V(repeating: lo), h = V(repeating: hi)
        let y = select(x .< l, l, x)
        return select(y .> h, h, y)
    }

    @inline(__always)
    static func max(_ a: V, _ b: V) -> V { select(a .< b, b, a) }

    @inline(__always)
    static func exp(_ input: V) -> V {
        var x = clamp(input, -87.3, 88.3)
        // Round x·log2(e) to the nearest integer with the 1.5·2^23 trick; its low mantissa bits are n.
        let magic = V(repeating: 12_582_912)
        let t = x * 1.44269504088896341 + magic
        let fx = t - magic
        let n = unsafeBitCast(t, to: I.self) &- unsafeBitCast(magic, to: I.self)
        x = x - fx * 0.693359375
        x = x + fx * 2.12194440e-4
        let z = x * x
        var y = V(repeating: 1.9875691500e-4)
        y = y * x + 1.3981999507e-3
        y = y * x + 8.3334519073e-3
        y = y * x + 4.1665795894e-2
        y = y * x + 1.6666665459e-1
        y = y * x + 5.0000001201e-1
        y = y * z + x + 1
        let bits = (n &+ I(repeating: 127)) &* I(repeating: 1 << 23)
        return y * unsafeBitCast(bits, to: V.self)
    }

    @inline(__always)
    static func erf(_ input: V) -> V {
        let x = clamp(input, -4, 4)
        let x2 = x * x
        var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
        p = x2 * p + -2.10102402082508e-06
        p = x2 * p + -5.69250639462346e-05
        p = x2 * p + -7.34990630326855e-04
        p = x2 * p + -2.95459980854025e-03
        p = x2 * p + -1.60960333262415e-02
        p = x * p
        var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04
        q = x2 * q + -1.68282697438203e-03
        q = x2 * q + -7.37332916720468e-03
        q = x2 * q + -1.42647390514189e-02
        return p / q
    }

    /// Scalar forms through the vector code (tails and tests).
    @inline(__always)
    static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }
    @inline(__always)
    static func erf(_ x: Float) -> Float { erf(V(repeating: x))[0] }

    /// Exact GELU, x·½(1 + erf(x/√2)).
    @inline(__always)
    static func gelu(_ x: V) -> V { x * 0.5 * (erf(x * 0.70710678118654752) + 1) }
}
