import Foundation

/// The parts of a ShapesWorld `labels.json` that evaluation needs: class and action names and each
/// object's action segments. A tolerant reader: `kvvision synth` writes the file; this
/// decodes only the keys scoring uses, so evaluation does not depend on the renderer (the format's identity is `ShapesWorldLabelsFormat`)
/// and accepts labels from other tools that follow the format.
///
/// File format (written by `kvvision synth`, see docs/shapesworld.md): `{"format":
/// "kvvision.shapesworld.labels","version":2,"classes":[…],"actions":[…],"objects":[{"id":1,
/// "class":"circle","actions":[{"from":1,"to":40,"action":"walk"},…]},…],…}`; segments are 1-based
/// inclusive frame ranges. Other keys are ignored.
///
/// Invariants after `read`: class and action names non-empty and unique, every segment's action is in
/// `actions` and `from ≤ to`, object ids unique.
///
/// Thread-safety: immutable value, `Sendable`.
public struct EvalLabels: Sendable, Decodable {
    public struct Segment: Sendable, Decodable {
        public var from: Int
        public var to: Int
        public var action: String
    }
    public struct Object: Sendable, Decodable {
        public var id: Int
        public var `class`: String?
        public var actions: [Segment]
    }

    public var format: String
    public var version: Int
    public var classes: [String]
    public var actions: [String]
    public var objects: [Object]
    /// Frames per second of the clip (optional; used to turn seconds into frames).
    public var fps: Double?

    /// Reads and validates a labels.json file.
    public static func read(_ url: URL) throws(EvalError) -> EvalLabels {
        let path = url.path
        let text = try EvalFile.text(url)
        let labels: EvalLabels
        do {
            labels = try JSONDecoder().decode(EvalLabels.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw .malformedLabels(path: path, reason: JSONErrorReason.describe(error))
        } catch {
            throw .malformedLabels(path: path, reason: "\(error)")
        }
        try labels.validate(path: path)
        return labels
    }

    func validate(path: String) throws(EvalError) {
        func fail(_ reason: String) -> EvalError { .malformedLabels(path: path, reason: reason) }
        guard format == ShapesWorldLabelsFormat.name else { throw fail("format is '\(format)', expected '\(ShapesWorldLabelsFormat.name)'") }
        // Version 1 spelled some keys Eval does not read in camelCase; the keys read here are the same.
        guard (1...ShapesWorldLabelsFormat.version).contains(version) else { throw fail("unsupported version \(version)") }
        guard !classes.isEmpty, Set(classes).count == classes.count, !classes.contains("") else { throw fail("classes must be non-empty and unique") }
        guard !actions.isEmpty, Set(actions).count == actions.count, !actions.contains("") else { throw fail("actions must be non-empty and unique") }
        var ids = Set<Int>()
        for object in objects {
            guard ids.insert(object.id).inserted else { throw fail("object id \(object.id) appears twice") }
            for s in object.actions {
                guard s.from <= s.to else { throw fail("object \(object.id): segment from \(s.from) to \(s.to) is empty") }
                guard actions.contains(s.action) else { throw fail("object \(object.id): unknown action '\(s.action)'") }
            }
        }
    }

    /// Per object id, its action segments with label indices (built once for lookups); `change`
    /// is true when the segment's action differs from the object's previous segment's.
    func actionIndex() -> [Int: [(from: Int, to: Int, action: Int, change: Bool)]] {
        let position = Dictionary(uniqueKeysWithValues: actions.enumerated().map { ($1, $0) })
        var result: [Int: [(from: Int, to: Int, action: Int, change: Bool)]] = [:]
        for object in objects {
            let sorted = object.actions.sorted { $0.from < $1.from }
            result[object.id] = sorted.enumerated().compactMap { i, s in
                position[s.action].map { (s.from, s.to, $0, i > 0 && sorted[i - 1].action != s.action) }
            }
        }
        return result
    }
}
