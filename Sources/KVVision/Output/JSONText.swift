/// Deterministic JSON text for output records: fixed key order, fixed rounding, no locale.
///
/// Numbers are rounded to a fixed number of decimals and written in Swift's shortest round-trip
/// form (integral values without a fraction, `-0` as `0`), so the same values always give the
/// same bytes, whatever the thread count or process. Strings are escaped per RFC 8259.
///
/// Invariants: objects and arrays nest at most `maxDepth` deep (records nest 4; deeper is a
/// programming error). Thread-safety: a value type owned by one writer.
public struct JSONText: Sendable {
    /// The UTF-8 bytes so far.
    public private(set) var bytes: [UInt8] = []
    /// The text so far.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
    /// Bit d: whether the value at nesting depth d needs a comma before it (bit 0: the top level).
    private var needsComma: UInt64 = 0
    private var depth = 0
    public static let maxDepth = 63

    /// `capacity`: bytes to reserve (a frame record of a dozen objects is about 1.5 KB).
    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Starts an object (as a value of the current key or array).
    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); push() }
    public mutating func endObject() { pop(); bytes.append(UInt8(ascii: "}")) }
    public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); push() }
    public mutating func endArray() { pop(); bytes.append(UInt8(ascii: "]")) }

    private mutating func push() {
        precondition(depth < Self.maxDepth, "JSON nested deeper than \(Self.maxDepth)")
        depth += 1
        needsComma &= ~(1 << UInt64(depth))
    }
    private mutating func pop() { depth = max(0, depth - 1) }

    /// Writes `"name":`; the next value belongs to it.
    public mutating func key(_ name: String) {
        separate()
        Self.quote(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma &= ~(1 << UInt64(depth))
    }

    public mutating func string(_ value: String) { separate(); Self.quote(value, into: &bytes) }
    public mutating func int(_ value: Int) { separate(); Self.appendInteger(value, into: &bytes) }
    public mutating func bool(_ value: Bool) { separate(); bytes.append(contentsOf: (value ? "true" : "false").utf8) }
    public mutating func null() { separate(); bytes.append(contentsOf: "null".utf8) }
    /// A number rounded to `decimals` (non-finite values are written as `null`): `format`'s text.
    public mutating func number(_ value: Double, decimals: Int) { separate(); Self.appendNumber(value, decimals: decimals, into: &bytes) }

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
        if needsComma & bit != 0 { bytes.append(UInt8(ascii: ",")) }
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

    /// `format(value, decimals:)`'s bytes appended to `out`, without building a `String` where the
    /// text is plain digits: for 10⁻⁴ ≤ |r| < 2⁵⁰·10⁻ᵈ (r the rounded value, d the decimals) the
    /// shortest round-trip form of r = k / 10ᵈ is k's digits with the point d places from the right
    /// and trailing zeros dropped (r is the double nearest that decimal, and any other decimal of
    /// as many digits or fewer is at least 10⁻ᵈ away, more than 4× r's spacing there); elsewhere
    /// (tiny values in exponent form, |r| ≥ 10¹⁵, larger k) `format` itself. Test: `OutputTests`' fast-format comparison.
    static func appendNumber(_ value: Double, decimals: Int, into out: inout [UInt8]) {
        let d = max(0, decimals)
        guard value.isFinite, d <= 15 else { out.append(contentsOf: format(value, decimals: decimals).utf8); return }
        var scale = 1.0
        for _ in 0..<d { scale *= 10 }
        let scaled = (value * scale).rounded()
        let r = scaled / scale
        guard r.isFinite, abs(scaled) < 1_125_899_906_842_624, abs(r) < 1e15, r == 0 || abs(r) >= 1e-4 else {
            out.append(contentsOf: format(value, decimals: decimals).utf8)
            return
        }
        if r == 0 { out.append(UInt8(ascii: "0")); return }
        var k = Int(scaled), places = d
        while places > 0, k % 10 == 0 { k /= 10; places -= 1 }  // trailing zeros of the fraction
        if k < 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(k.magnitude, places: places, into: &out)
    }

    /// `String(value)`'s bytes appended to `out`.
    static func appendInteger(_ value: Int, into out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(value.magnitude, places: 0, into: &out)
    }

    /// The decimal digits of `v` with a point `places` digits from the right (a leading `0.` and
    /// zeros when v has no more digits than that).
    private static func appendDigits(_ v: UInt, places: Int, into out: inout [UInt8]) {
        var count = 1, divisor: UInt = 1
        while v / divisor >= 10 { divisor *= 10; count += 1 }
        if count <= places {
            out.append(UInt8(ascii: "0")); out.append(UInt8(ascii: "."))
            for _ in 0..<(places - count) { out.append(UInt8(ascii: "0")) }
        }
        var rest = v
        for i in stride(from: count - 1, through: 0, by: -1) {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
            if i == places, places > 0, count > places { out.append(UInt8(ascii: ".")) }
        }
    }

    /// Appends `s` as a JSON string literal, UTF-8.
    public static func quote(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (keys, labels, states) need no escape: appended whole.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) {
            out.append(contentsOf: s.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        var text = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    text.unicodeScalars.append(u)
                }
            }
        }
        out.append(contentsOf: text.utf8)
        out.append(UInt8(ascii: "\""))
    }
}
