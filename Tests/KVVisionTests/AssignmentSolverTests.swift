import Testing
@testable import KVVision

/// The optimal assignment solver against exhaustive search on small random matrices.
@Suite struct AssignmentSolverTests {
    /// Best (largest allowed-pair count, then smallest cost) over every full assignment of the
    /// smaller side into the larger one.
    static func bruteForce(rows: Int, columns: Int, costs: [Double]) -> (count: Int, cost: Double) {
        let transposed = rows > columns
        let n = transposed ? columns : rows, m = transposed ? rows : columns
        func c(_ i: Int, _ j: Int) -> Double { transposed ? costs[j * columns + i] : costs[i * columns + j] }
        var best = (count: -1, cost: Double.infinity)
        var usedColumns = [Bool](repeating: false, count: m)
        func search(_ i: Int, _ count: Int, _ cost: Double) {
            if i == n {
                if count > best.count || (count == best.count && cost < best.cost) { best = (count, cost) }
                return
            }
            for j in 0..<m where !usedColumns[j] {
                usedColumns[j] = true
                let x = c(i, j)
                if x.isFinite { search(i + 1, count + 1, cost + x) } else { search(i + 1, count, cost) }
                usedColumns[j] = false
            }
        }
        search(0, 0, 0)
        return best.count <= 0 ? (0, 0) : best
    }

    static func check(rows: Int, columns: Int, costs: [Double]) {
        let matches = AssignmentSolver.solve(rows: rows, columns: columns, costs: costs)
        let expected = bruteForce(rows: rows, columns: columns, costs: costs)
        #expect(Set(matches.map(\.row)).count == matches.count, "a row is used twice")
        #expect(Set(matches.map(\.column)).count == matches.count, "a column is used twice")
        #expect(matches.allSatisfy { costs[$0.row * columns + $0.column].isFinite }, "a forbidden pair was returned")
        #expect(matches.count == expected.count, "\(rows)x\(columns) \(costs)")
        let cost = AssignmentSolver.totalCost(matches, columns: columns, costs: costs)
        #expect(abs(cost - expected.cost) < 1e-9, "\(rows)x\(columns) cost \(cost) vs \(expected.cost)")
    }

    @Test func matchesBruteForceOnRandomSquareMatrices() {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<200 {
            let n = rng.nextInt(in: 1...6)
            Self.check(rows: n, columns: n, costs: (0..<(n * n)).map { _ in Double(rng.nextFloat()) * 10 })
        }
    }

    @Test func matchesBruteForceOnRandomRectangularMatrices() {
        var rng = SplitMix64(seed: 2)
        for _ in 0..<200 {
            let rows = rng.nextInt(in: 1...6), columns = rng.nextInt(in: 1...6)
            Self.check(rows: rows, columns: columns, costs: (0..<(rows * columns)).map { _ in Double(rng.nextFloat()) * 5 + 2 })
        }
    }

    @Test func matchesBruteForceWithForbiddenPairs() {
        var rng = SplitMix64(seed: 3)
        for trial in 0..<300 {
            let rows = rng.nextInt(in: 1...6), columns = rng.nextInt(in: 1...6)
            let costs: [Double] = (0..<(rows * columns)).map { _ in
                let forbidden = rng.nextInt(in: 0...9) < 4
                if forbidden { return trial % 2 == 0 ? .infinity : .nan }
                // Small integers make ties common: the count and cost must still be optimal.
                return Double(rng.nextInt(in: -3...3))
            }
            Self.check(rows: rows, columns: columns, costs: costs)
        }
    }

    @Test func prefersMoreAllowedPairsOverLowerCost() {
        // Row 0 alone could take column 0 at cost 0, but then row 1 has nothing allowed;
        // the maximum-cardinality assignment pairs (0,1) and (1,0).
        let matches = AssignmentSolver.solve([[0, 9], [5, nil]])
        #expect(matches == [.init(row: 0, column: 1), .init(row: 1, column: 0)])
    }

    @Test func emptyAndAllForbiddenGiveNoPairs() {
        #expect(AssignmentSolver.solve([]).isEmpty)
        #expect(AssignmentSolver.solve([[nil, nil], [nil, .infinity]]).isEmpty)
        #expect(AssignmentSolver.solve(rows: 2, columns: 2, costs: [1, 2, 3]).isEmpty)
        #expect(AssignmentSolver.solve([[1, 2], [3]]).isEmpty)
    }

    @Test func tallMatrixIsSolvedThroughItsTranspose() {
        let matches = AssignmentSolver.solve([[4], [1], [3]])
        #expect(matches == [.init(row: 1, column: 0)])
    }

    @Test func reusedSolverGivesTheSameAnswersAcrossChangingSizes() {
        var rng = SplitMix64(seed: 4)
        var solver = AssignmentSolver()
        var result: [AssignmentSolver.Match] = [.init(row: 99, column: 99)]
        for _ in 0..<300 {
            let rows = rng.nextInt(in: 0...7), columns = rng.nextInt(in: 0...7)
            let costs: [Double] = (0..<(rows * columns)).map { _ in
                rng.nextInt(in: 0...9) < 3 ? .infinity : Double(rng.nextInt(in: -4...4))
            }
            solver.solve(rows: rows, columns: columns, costs: costs, into: &result)
            let fresh = AssignmentSolver.solve(rows: rows, columns: columns, costs: costs)
            #expect(result.count == fresh.count)
            #expect(AssignmentSolver.totalCost(result, columns: columns, costs: costs)
                    == AssignmentSolver.totalCost(fresh, columns: columns, costs: costs))
            if rows > 0 && columns > 0 && rows <= 6 && columns <= 6 {
                let best = Self.bruteForce(rows: rows, columns: columns, costs: costs)
                #expect(result.count == best.count)
            }
        }
    }
}
