/// Frame-by-frame CLEAR-MOT matching and identity counting, reproducing py-motmetrics'
/// `MOTAccumulator.update` and its metrics.
///
/// State machine per frame (py-motmetrics 1.4 semantics):
/// 1. Every ground-truth object whose previous partner (`partner[o]`, the last prediction id it was
///    matched to) is present and still within IoU ≥ 0.5 keeps it: a MATCH.
/// 2. The remaining objects and predictions are assigned optimally (`AssignmentSolver`, cost `1 − IoU`,
///    pairs below IoU 0.5 forbidden). A pair whose object had another partner is a SWITCH, else a MATCH;
///    a prediction id that belonged to another object is a TRANSFER (MIGRATE when the object had never
///    been matched); a SWITCH to a never-matched prediction id is also an ASCEND.
/// 3. Unmatched objects are MISSes, unmatched predictions FPs.
/// Identity: every (object, prediction) pair within IoU ≥ 0.5 in a frame counts toward that pair's
/// overlap; `finish()` finds the one-to-one id matching with the largest total overlap (IDTP).
///
/// Memory grows with the number of distinct ids (not frames). Thread-safety: a mutable value owned by
/// one evaluation.
struct ClearMOTAccumulator {
    private struct IDPair: Hashable {
        var object: Int
        var prediction: Int
    }

    private(set) var metrics = TrackingMetrics()
    /// Matched (ground-truth index, prediction index) pairs of every frame, in the caller's indexing.
    private(set) var matchedPairs: [(gt: Int, pred: Int)] = []

    private var partner: [Int: Int] = [:]          // object id → last matched prediction id   (m)
    private var owner: [Int: Int] = [:]            // prediction id → last object it matched   (res_m)
    private var everMatchedObjects = Set<Int>()    // last_match keys
    private var everMatchedPredictions = Set<Int>() // hypHistory keys
    private var overlap: [IDPair: Int] = [:]       // (object id, prediction id) → frames within IoU ≥ 0.5
    private var objectFrames: [Int: Int] = [:]
    private var objectTracked: [Int: Int] = [:]
    private var predictionIDs = Set<Int>()
    private var wasTracked = Set<Int>()             // objects matched at least once
    private var missRunOpen = Set<Int>()            // objects currently missed after having been tracked
    private var solver = AssignmentSolver()         // scratch reused frame after frame
    private var assigned: [AssignmentSolver.Match] = []

    /// Adds one frame. `objects` and `predictions` are (caller index, id, box) in file order.
    mutating func update(objects: [(index: Int, id: Int, box: Box)], predictions: [(index: Int, id: Int, box: Box)]) {
        guard !objects.isEmpty || !predictions.isEmpty else { return }
        metrics.frames += 1
        metrics.objects += objects.count
        metrics.predictions += predictions.count
        let n = objects.count, m = predictions.count
        var distances = [Double](repeating: .infinity, count: n * m)
        for i in 0..<n {
            for j in 0..<m {
                if let d = objects[i].box.matchDistance(to: predictions[j].box) {
                    distances[i * m + j] = d
                    overlap[IDPair(object: objects[i].id, prediction: predictions[j].id), default: 0] += 1
                }
            }
        }
        var objectDone = [Bool](repeating: false, count: n)
        var predictionDone = [Bool](repeating: false, count: m)
        var tracked = [Bool](repeating: false, count: n)
        func record(_ i: Int, _ j: Int) {
            metrics.distanceSum += distances[i * m + j]
            objectDone[i] = true; predictionDone[j] = true; tracked[i] = true
            matchedPairs.append((objects[i].index, predictions[j].index))
        }
        if n > 0 && m > 0 {
            // 1. Keep previous correspondences that still overlap.
            for i in 0..<n {
                guard let previous = partner[objects[i].id],
                      let j = (0..<m).first(where: { !predictionDone[$0] && predictions[$0].id == previous }),
                      distances[i * m + j].isFinite else { continue }
                record(i, j)
                metrics.matches += 1
                everMatchedObjects.insert(objects[i].id)
                everMatchedPredictions.insert(predictions[j].id)
            }
            // 2. Optimal assignment of the rest.
            var rest = distances
            for i in 0..<n where objectDone[i] { for j in 0..<m { rest[i * m + j] = .infinity } }
            for j in 0..<m where predictionDone[j] { for i in 0..<n { rest[i * m + j] = .infinity } }
            solver.solve(rows: n, columns: m, costs: rest, into: &assigned)
            for pair in assigned {
                let o = objects[pair.row].id, h = predictions[pair.column].id
                let isSwitch = partner[o].map { $0 != h } ?? false
                if isSwitch {
                    metrics.switches += 1
                    if !everMatchedPredictions.contains(h) { metrics.ascends += 1 }
                } else {
                    metrics.matches += 1
                }
                if let previousOwner = owner[h], previousOwner != o {
                    metrics.transfers += 1
                    if !everMatchedObjects.contains(o) { metrics.migrates += 1 }
                }
                everMatchedPredictions.insert(h)
                everMatchedObjects.insert(o)
                record(pair.row, pair.column)
                partner[o] = h
                owner[h] = o
            }
        }
        // 3. Misses and false positives; per-object history for MT/PT/ML and fragmentations.
        metrics.misses += objectDone.filter { !$0 }.count
        metrics.falsePositives += predictionDone.filter { !$0 }.count
        for i in 0..<n {
            let o = objects[i].id
            objectFrames[o, default: 0] += 1
            if tracked[i] {
                objectTracked[o, default: 0] += 1
                if missRunOpen.remove(o) != nil { metrics.fragmentations += 1 }
                wasTracked.insert(o)
            } else if wasTracked.contains(o) {
                missRunOpen.insert(o)
            }
        }
        for p in predictions { predictionIDs.insert(p.id) }
    }

    /// Completes the per-object and identity metrics.
    mutating func finish() -> TrackingMetrics {
        var result = metrics
        result.uniqueObjects = objectFrames.count
        for (o, total) in objectFrames {
            let ratio = Double(objectTracked[o] ?? 0) / Double(total)
            if ratio >= 0.8 { result.mostlyTracked += 1 } else if ratio >= 0.2 { result.partiallyTracked += 1 } else { result.mostlyLost += 1 }
        }
        // Global identity matching: maximise the summed overlap of a one-to-one id matching.
        let objectIDs = objectFrames.keys.sorted(), predictionList = predictionIDs.sorted()
        var idtp = 0
        if !objectIDs.isEmpty && !predictionList.isEmpty && !overlap.isEmpty {
            let m = predictionList.count
            var costs = [Double](repeating: 0, count: objectIDs.count * m)
            let column = Dictionary(uniqueKeysWithValues: predictionList.enumerated().map { ($1, $0) })
            let row = Dictionary(uniqueKeysWithValues: objectIDs.enumerated().map { ($1, $0) })
            for (pair, count) in overlap {
                if let r = row[pair.object], let c = column[pair.prediction] { costs[r * m + c] = -Double(count) }
            }
            for match in AssignmentSolver.solve(rows: objectIDs.count, columns: m, costs: costs) {
                idtp -= Int(costs[match.row * m + match.column])
            }
        }
        result.idtp = idtp
        result.idfn = result.objects - idtp
        result.idfp = result.predictions - idtp
        return result
    }
}
