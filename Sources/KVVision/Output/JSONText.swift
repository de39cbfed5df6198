/// Deterministic JSON text for output records: fixed key order, fixed rounding, no locale.
///
/// Numbers are rounded to a fixed number of decimals and written in Swift's shortest round-trip
/// form (integral values without a fraction, `-0` as `0`), so the same values always give the
/// same bytes, whatever the thread count or process. Strings are escaped per RFC 8259.
///
/// Thread-safety: a value type owned by one writer.
public struct JSONText: Sendable {
    /// The text so far.
    public private(set) var text = ""
    private var needsComma = [false]

    public init() {}

    /// Starts an object (as a value of the current key or array).
    public mutating func beginObject() { separate(); text += "{"; needsComma.append(false) }
    public mutating func endObject() { needsComma.removeLast(); text += "}" }
    public mutating func beginArray() { separate(); text += "["; needsComma.append(false) }
    public mutating func endArray() { needsComma.removeLast(); text += "]" }

    /// Writes `"name":`; the next value belongs to it.
    public mutating func key(_ name: String) {
        separate()
        Self.quote(name, into: &text)
        text += ":"
        needsComma[needsComma.count - 1] = false
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
        for v in [box.x, box.y, box.w, box.h] { number(v, decimals: 2) }
        endArray()
    }

    private mutating func separate() {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
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
