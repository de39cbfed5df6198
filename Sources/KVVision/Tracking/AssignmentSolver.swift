/// Optimal rectangular linear assignment (Hungarian method with potentials, the shortest-augmenting-path
/// form of Kuhn–Munkres / Jonker–Volgenant), shared by Tracking (association) and Eval (metrics).
///
/// Problem: a `rows × columns` cost matrix (row-major) where a non-finite entry (`+inf`, `nan`) marks a
/// forbidden pair. The solver returns the pairs of an assignment that
///   1. has the largest possible number of allowed pairs (maximum cardinality over allowed pairs), and
///   2. among those, the smallest total cost.
/// This is exactly what SciPy's `linear_sum_assignment` gives after py-motmetrics replaces forbidden
/// entries by a large constant (`motmetrics.lap.add_expensive_edges`) and drops them afterwards, so
/// Eval reproduces motmetrics' matching. Internally the same is done: forbidden entries get the cost
/// `2·r·c + 1` (`r = min(rows, columns)`, `c = 1 + max |allowed cost|`), which is larger than any
/// difference a full assignment of allowed pairs can make, and are removed from the result.
///
/// Complexity O(r² · max(rows, columns)) time, O(rows · columns) memory. Where several assignments
/// are optimal, which one is returned is unspecified (deterministic for the same input).
///
/// Thread-safety: a stateless namespace; calls are independent and reentrant.
public enum AssignmentSolver {
    /// One assigned pair.
    public struct Match: Sendable, Hashable {
        public var row: Int
        public var column: Int
        public init(row: Int, column: Int) { self.row = row; self.column = column }
    }

    /// Solves the problem for a row-major `costs` array of `rows * columns` entries (non-finite =
    /// forbidden). Returns the allowed assigned pairs sorted by row. A size mismatch returns no pairs.
    public static func solve(rows: Int, columns: Int, costs: [Double]) -> [Match] {
        guard rows > 0, columns > 0, costs.count == rows * columns else { return [] }
        var maxAbs = -1.0
        for c in costs where c.isFinite { maxAbs = max(maxAbs, abs(c)) }
        guard maxAbs >= 0 else { return [] }  // nothing allowed
        let r = min(rows, columns)
        let large = 2 * Double(r) * (maxAbs + 1) + 1
        // The algorithm below needs n ≤ m; transpose when there are more rows than columns.
        let transposed = rows > columns
        let n = transposed ? columns : rows
        let m = transposed ? rows : columns
        @inline(__always) func cost(_ i: Int, _ j: Int) -> Double {
            let c = transposed ? costs[j * columns + i] : costs[i * columns + j]
            return c.isFinite ? c : large
        }
        // 1-based potentials u (rows), v (columns); p[j] = row matched to column j (0 = none).
        var u = [Double](repeating: 0, count: n + 1)
        var v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1)
        var way = [Int](repeating: 0, count: m + 1)
        var minv = [Double](repeating: .infinity, count: m + 1)
        var used = [Bool](repeating: false, count: m + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            for j in 0...m { minv[j] = .infinity; used[j] = false }
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity
                var j1 = 0
                for j in 1...m where !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...m {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var result: [Match] = []
        result.reserveCapacity(n)
        for j in 1...m where p[j] != 0 {
            let (row, column) = transposed ? (j - 1, p[j] - 1) : (p[j] - 1, j - 1)
            if costs[row * columns + column].isFinite { result.append(Match(row: row, column: column)) }
        }
        result.sort { $0.row < $1.row }
        return result
    }

    /// Convenience for a matrix given as rows of equal length (`nil` or non-finite = forbidden).
    /// Ragged input (rows of different lengths) returns no pairs.
    public static func solve(_ matrix: [[Double?]]) -> [Match] {
        let rows = matrix.count
        let columns = matrix.first?.count ?? 0
        guard matrix.allSatisfy({ $0.count == columns }) else { return [] }
        return solve(rows: rows, columns: columns, costs: matrix.flatMap { $0.map { $0 ?? .infinity } })
    }

    /// Total cost of `matches` under a row-major `costs` array with `columns` columns.
    public static func totalCost(_ matches: [Match], columns: Int, costs: [Double]) -> Double {
        matches.reduce(0) { $0 + costs[$1.row * columns + $1.column] }
    }
}
