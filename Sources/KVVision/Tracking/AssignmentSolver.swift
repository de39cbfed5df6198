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
/// Complexity O(r² · max(rows, columns)) time, O(rows + columns) scratch memory. Where several
/// assignments are optimal, which one is returned is unspecified (deterministic for the same input).
///
/// Use: `AssignmentSolver.solve(rows:columns:costs:)` allocates its scratch per call (fine for
/// evaluation); a per-stream solver (`var solver = AssignmentSolver()`, then
/// `solver.solve(rows:columns:costs:into:)` every frame) keeps its scratch buffers and the result
/// array between calls, so per-frame association allocates nothing once the largest size was seen.
///
/// Thread-safety: a value type owning its scratch buffers; one instance per thread (the static
/// function is reentrant).
public struct AssignmentSolver: Sendable {
    /// One assigned pair.
    public struct Match: Sendable, Hashable {
        public var row: Int
        public var column: Int
        public init(row: Int, column: Int) { self.row = row; self.column = column }
    }

    // Scratch, 1-based as in the classic formulation: potentials u (rows) and v (columns), p[j] = row
    // matched to column j (0 = none), way[j] = previous column on the augmenting path.
    private var u: [Double] = []
    private var v: [Double] = []
    private var minv: [Double] = []
    private var p: [Int] = []
    private var way: [Int] = []
    private var used: [Bool] = []

    /// A solver with empty scratch buffers (they grow to the largest problem solved, then stay).
    public init() {}

    /// Solves the problem for a row-major `costs` array of `rows * columns` entries (non-finite =
    /// forbidden). Returns the allowed assigned pairs sorted by row. A size mismatch returns no pairs.
    public static func solve(rows: Int, columns: Int, costs: [Double]) -> [Match] {
        var solver = AssignmentSolver()
        var result: [Match] = []
        solver.solve(rows: rows, columns: columns, costs: costs, into: &result)
        return result
    }

    /// Same as the static `solve`, writing the pairs into `result` (cleared first, capacity kept) and
    /// reusing this solver's scratch buffers.
    public mutating func solve(rows: Int, columns: Int, costs: [Double], into result: inout [Match]) {
        result.removeAll(keepingCapacity: true)
        guard rows > 0, columns > 0, costs.count == rows * columns else { return }
        var maxAbs = -1.0
        for c in costs where c.isFinite { maxAbs = max(maxAbs, abs(c)) }
        guard maxAbs >= 0 else { return }  // nothing allowed
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
        Self.reset(&u, n + 1, 0.0)
        Self.reset(&v, m + 1, 0.0)
        Self.reset(&p, m + 1, 0)
        Self.reset(&way, m + 1, 0)
        Self.reset(&minv, m + 1, Double.infinity)
        Self.reset(&used, m + 1, false)
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
        for j in 1...m where p[j] != 0 {
            let (row, column) = transposed ? (j - 1, p[j] - 1) : (p[j] - 1, j - 1)
            if costs[row * columns + column].isFinite { result.append(Match(row: row, column: column)) }
        }
        result.sort { $0.row < $1.row }
    }

    /// Sets `buffer` to `count` copies of `value`, keeping its allocation.
    private static func reset<T>(_ buffer: inout [T], _ count: Int, _ value: T) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(value, count: count))
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
