import Foundation

/// The comma-separated fields of one MOTChallenge text line, with typed, validated accessors.
///
/// Fields are separated by commas (spaces around them allowed) or, when a line has no comma, by
/// whitespace, as py-motmetrics' reader accepts. Accessors throw `EvalError.malformedLine` naming the
/// file, the 1-based line and the column.
///
/// Thread-safety: a value used by one reader at a time.
struct MOTFields {
    let path: String
    let line: Int
    let fields: [Substring]

    init(_ text: Substring, path: String, line: Int) {
        self.path = path
        self.line = line
        // Split on bytes (',' space and tab are ASCII, never part of a multi-byte character).
        let bytes = text.utf8
        let separated: [Substring] = (bytes.contains(0x2C)
            ? bytes.split(separator: 0x2C, omittingEmptySubsequences: false)
            : bytes.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 })).map { Substring($0) }
        fields = separated.map { field in
            var f = field
            while let c = f.first, c == " " || c == "\t" { f.removeFirst() }
            while let c = f.last, c == " " || c == "\t" { f.removeLast() }
            return f
        }
    }

    var count: Int { fields.count }

    func fail(_ reason: String) -> EvalError { .malformedLine(path: path, line: line, reason: reason) }

    /// Requires at least `n` fields; `what` names the expected layout.
    func require(_ n: Int, _ what: String) throws(EvalError) {
        guard fields.count >= n else { throw fail("expected at least \(n) comma-separated fields (\(what)), found \(fields.count)") }
    }

    /// A finite number in column `index` (0-based), named `name` in errors.
    func double(_ index: Int, _ name: String) throws(EvalError) -> Double {
        guard index < fields.count, let v = Double(fields[index]), v.isFinite else {
            throw fail("column \(index + 1) (\(name)): expected a number, got '\(index < fields.count ? String(fields[index]) : "")'")
        }
        return v
    }

    /// An integer in column `index` (an integral decimal such as `3.0` is accepted).
    func int(_ index: Int, _ name: String) throws(EvalError) -> Int {
        if index < fields.count, let v = Int(fields[index]) { return v }
        let v = try double(index, name)
        guard v == v.rounded(), abs(v) < 1e15 else { throw fail("column \(index + 1) (\(name)): expected an integer, got '\(fields[index])'") }
        return Int(v)
    }

    /// The box in columns 3–6, with non-negative width and height.
    func box() throws(EvalError) -> Box {
        let b = Box(x: try double(2, "x"), y: try double(3, "y"), w: try double(4, "width"), h: try double(5, "height"))
        guard b.w >= 0, b.h >= 0 else { throw fail("negative box size \(b.w)x\(b.h)") }
        return b
    }
}
