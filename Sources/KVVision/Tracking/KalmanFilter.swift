import Foundation

/// A constant-velocity Kalman filter on a box's centre and log size.
///
/// State `x = [cx, cy, log w, log h, vcx, vcy, vlog w, vlog h]` (velocities per temporal step).
/// Measurement `z = [cx, cy, log w, log h]` (`H = [I 0]`). Log size keeps widths and heights
/// positive and makes size noise relative. Noise (standard deviations) follows ByteTrack's
/// choice of scaling positional noise with the box size `s = sqrt(w·h)` of the current estimate:
/// - process, per step `dt`: `Q = dt · diag((qp·s)², (qp·s)², qs², qs², (qv·s)², (qv·s)², qsv², qsv²)`
/// - measurement: `R = diag((rp·s)², (rp·s)², rs², rs²)`
/// - initial: `P0 = diag((2rp·s)², (2rp·s)², (2rs)², (2rs)², (10qv·s)², (10qv·s)², (10qsv)², (10qsv)²)`
/// Predict: `x ← F x`, `P ← F P Fᵀ + Q` with `F = [[I, dt·I], [0, I]]`. Update: `S = H P Hᵀ + R`,
/// `K = P Hᵀ S⁻¹`, `x ← x + K (z − H x)`, `P ← P − K H P`. tools/reference/kalman_reference.py
/// computes the same with numpy; a test compares.
///
/// Invariants: `P` symmetric positive definite (up to rounding); 8×8 row-major storage.
/// Thread-safety: a value type, owned by one track.
public struct KalmanFilter: Sendable, Equatable {
    /// Noise settings (see the type's formulas).
    public struct Noise: Sendable, Equatable, Codable {
        public var position: Double
        public var velocity: Double
        public var size: Double
        public var sizeVelocity: Double
        public var measurementPosition: Double
        public var measurementSize: Double

        public init(position: Double = 1.0 / 20, velocity: Double = 1.0 / 160, size: Double = 0.05,
                    sizeVelocity: Double = 0.01, measurementPosition: Double = 1.0 / 20, measurementSize: Double = 0.05) {
            self.position = position; self.velocity = velocity; self.size = size; self.sizeVelocity = sizeVelocity
            self.measurementPosition = measurementPosition; self.measurementSize = measurementSize
        }

        enum CodingKeys: String, CodingKey {
            case position, velocity, size, sizeVelocity = "size_velocity"
            case measurementPosition = "measurement_position", measurementSize = "measurement_size"
        }

        public init(from decoder: any Decoder) throws {
            let d = Noise()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            position = try c.decodeIfPresent(Double.self, forKey: .position) ?? d.position
            velocity = try c.decodeIfPresent(Double.self, forKey: .velocity) ?? d.velocity
            size = try c.decodeIfPresent(Double.self, forKey: .size) ?? d.size
            sizeVelocity = try c.decodeIfPresent(Double.self, forKey: .sizeVelocity) ?? d.sizeVelocity
            measurementPosition = try c.decodeIfPresent(Double.self, forKey: .measurementPosition) ?? d.measurementPosition
            measurementSize = try c.decodeIfPresent(Double.self, forKey: .measurementSize) ?? d.measurementSize
        }

        /// All values finite and positive.
        public var isValid: Bool {
            [position, velocity, size, sizeVelocity, measurementPosition, measurementSize].allSatisfy { $0.isFinite && $0 > 0 }
        }
    }

    public let noise: Noise
    /// State mean (8).
    public private(set) var x: [Double]
    /// State covariance (8×8, row-major).
    public private(set) var p: [Double]

    /// Smallest box side used to form the measurement (avoids log 0).
    static let minSide = 1e-3

    /// A filter started at a measured box.
    public init(box: Box, noise: Noise = Noise()) {
        self.noise = noise
        let z = Self.measurement(box)
        x = z + [0, 0, 0, 0]
        let s = exp((z[2] + z[3]) / 2)
        let sd = [2 * noise.measurementPosition * s, 2 * noise.measurementPosition * s,
                  2 * noise.measurementSize, 2 * noise.measurementSize,
                  10 * noise.velocity * s, 10 * noise.velocity * s, 10 * noise.sizeVelocity, 10 * noise.sizeVelocity]
        p = [Double](repeating: 0, count: 64)
        for i in 0..<8 { p[i * 8 + i] = sd[i] * sd[i] }
    }

    /// `[cx, cy, log w, log h]` of a box (sides clamped to ≥ `minSide`).
    public static func measurement(_ box: Box) -> [Double] {
        [box.centerX, box.centerY, log(max(box.w, minSide)), log(max(box.h, minSide))]
    }

    /// The box of the current mean.
    public var box: Box { Box(centerX: x[0], centerY: x[1], w: exp(x[2]), h: exp(x[3])) }

    /// Advances the state by `dt` temporal steps (dt > 0).
    public mutating func predict(dt: Double = 1) {
        let s = exp((x[2] + x[3]) / 2)
        let n = noise
        let q = [n.position * s, n.position * s, n.size, n.size, n.velocity * s, n.velocity * s, n.sizeVelocity, n.sizeVelocity]
        for i in 0..<4 { x[i] += dt * x[i + 4] }
        // P ← F P Fᵀ: rows i<4 get + dt·row(i+4), then columns j<4 get + dt·col(j+4).
        for i in 0..<4 { for j in 0..<8 { p[i * 8 + j] += dt * p[(i + 4) * 8 + j] } }
        for i in 0..<8 { for j in 0..<4 { p[i * 8 + j] += dt * p[i * 8 + j + 4] } }
        for i in 0..<8 { p[i * 8 + i] += dt * q[i] * q[i] }
    }

    /// Corrects the state with a measured box.
    public mutating func update(box: Box) {
        let z = Self.measurement(box)
        let s = exp((x[2] + x[3]) / 2)
        let r = [noise.measurementPosition * s, noise.measurementPosition * s, noise.measurementSize, noise.measurementSize]
        // S = P[0:4,0:4] + R
        var sm = [Double](repeating: 0, count: 16)
        for i in 0..<4 { for j in 0..<4 { sm[i * 4 + j] = p[i * 8 + j] } }
        for i in 0..<4 { sm[i * 4 + i] += r[i] * r[i] }
        guard let chol = Self.cholesky(sm) else { return }
        // Kᵀ = S⁻¹ P[0:4, :]  (S symmetric) → K[i][k] = Kᵀ[k][i]
        var kt = [Double](repeating: 0, count: 32)
        for col in 0..<8 {
            let b = (0..<4).map { p[$0 * 8 + col] }
            let sol = Self.choleskySolve(chol, b)
            for k in 0..<4 { kt[k * 8 + col] = sol[k] }
        }
        let innovation = (0..<4).map { z[$0] - x[$0] }
        for i in 0..<8 {
            var d = 0.0
            for k in 0..<4 { d += kt[k * 8 + i] * innovation[k] }
            x[i] += d
        }
        // P ← P − K P[0:4, :]
        let top = Array(p[0..<32])
        for i in 0..<8 {
            for j in 0..<8 {
                var d = 0.0
                for k in 0..<4 { d += kt[k * 8 + i] * top[k * 8 + j] }
                p[i * 8 + j] -= d
            }
        }
    }

    /// Sets the velocity to zero (for a track lost so long that its motion is no longer known).
    public mutating func stop() {
        for i in 4..<8 { x[i] = 0 }
    }

    /// Lower-triangular Cholesky factor of a 4×4 SPD matrix, nil when not positive definite.
    static func cholesky(_ a: [Double]) -> [Double]? {
        var l = [Double](repeating: 0, count: 16)
        for i in 0..<4 {
            for j in 0...i {
                var sum = a[i * 4 + j]
                for k in 0..<j { sum -= l[i * 4 + k] * l[j * 4 + k] }
                if i == j {
                    guard sum > 0, sum.isFinite else { return nil }
                    l[i * 4 + i] = sum.squareRoot()
                } else {
                    l[i * 4 + j] = sum / l[j * 4 + j]
                }
            }
        }
        return l
    }

    static func choleskySolve(_ l: [Double], _ b: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: 4)
        for i in 0..<4 {
            var s = b[i]
            for k in 0..<i { s -= l[i * 4 + k] * y[k] }
            y[i] = s / l[i * 4 + i]
        }
        var x = [Double](repeating: 0, count: 4)
        for i in stride(from: 3, through: 0, by: -1) {
            var s = y[i]
            for k in (i + 1)..<4 { s -= l[k * 4 + i] * x[k] }
            x[i] = s / l[i * 4 + i]
        }
        return x
    }
}
