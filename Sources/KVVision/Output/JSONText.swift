/// Deterministic JSON text for output records: fixed key order, fixed rounding, no locale.
///
/// Numbers are rounded to a fixed number of decimals and written in Swift's shortest round-trip
/// form (integral values without a fraction, `-0` as `0`), so the same values always give the
/// same bytes, whatever the thread count or process. Strings are escaped per RFC 8259.
///
/// Invariants: objects and arrays nest at most `maxDepth` deep (records nest 4; deeper is a
/// programming error). Thread-safety: a value type owned by one writer.
public struct JSONText: Sendable {
    /// The text so far.
    public private(set) var text = ""
    /// Bit d: whether the value at nesting depth d needs a comma before it (bit 0: the top level).
    private var needsComma: UInt64 = 0
    private var depth = 0
    public static let maxDepth = 63

    /// `capacity`: bytes to reserve (a frame record of a dozen objects is about 1.5 KB).
    public init(capacity: Int = 0) { text.reserveCapacity(capacity) }

    /// Starts an object (as a value of the current key or array).
    public mutating func beginObject() { separate(); text += "{"; push() }
    public mutating func endObject() { pop(); text += "}" }
    public mutating func beginArray() { separate(); text += "["; push() }
    public mutating func endArray() { pop(); text += "]" }

    private mutating func push() {
        precondition(depth < Self.maxDepth, "JSON nested deeper than \(Self.maxDepth)")
        depth += 1
        needsComma &= ~(1 << UInt64(depth))
    }
    private mutating func pop() { depth = max(0, depth - 1) }

    /// Writes `"name":`; the next value belongs to it.
    public mutating func key(_ name: String) {
        separate()
        Self.quote(name, into: &text)
        text += ":"
        needsComma &= ~(1 << UInt64(depth))
    }

    public mutating func string(_ value: String) { separate(); Self.quote(value, into: &text) }
    public mutating func int(_ value: Int) { separate(); text += String(value) }
    public mutating func bool(_ value: Bool) { separate(); text += value ? "true" : "false" }
    public mutating func null() { separate(); text += "null" }
    /// A number rounded to `decimals` (non-finite values are written as `null`).
    public mutating func number(_ value: Double, decimals: Int) { separate(); text += Self.format(value, decimals: decimals) }

    public mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    public mutating func field(_ name: String, _ value: Int) { key(name); int(value) }
    public mutating func field(_ name: String, _ value: Double, decimals: Int) { key(name); number(value, decimals: decimals) }
    /// A box as `[x,y,w,h]` with 2 decimals.
    public mutating func field(_ name: String, _ box: Box) {
        key(name); beginArray()
        number(box.x, decimals: 2); number(box.y, decimals: 2); number(box.w, decimals: 2); number(box.h, decimals: 2)
        endArray()
    }

    private mutating func separate() {
        let bit: UInt64 = 1 << UInt64(depth)
        if needsComma & bit != 0 { text += "," }
        needsComma |= bit
    }

    /// `value` rounded half away from zero to `decimals` decimals, shortest form.
    public static func format(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "null" }
        var scale = 1.0
        for _ in 0..<max(0, decimals) { scale *= 10 }
        var r = (value * scale).rounded() / scale
        if !r.isFinite { r = value }
        if r == 0 { return "0" }
        if r == r.rounded(), abs(r) < 1e15 { return String(Int(r)) }
        return String(r)
    }

    /// Appends `s` as a JSON string literal.
    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        // Most strings (keys, labels, states) need no escape: appended whole.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) {
            out += s
            out += "\""
            return
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
