import Foundation
import KVVision

/// A JSON value with raw number text, so generated documents can hold numbers no encoder would
/// write (`1e400`, `-0`, `00012`, 20-digit integers) and duplicate keys.
indirect enum JSONValue: Decodable {
    case null, bool(Bool), number(String), string(String), array([JSONValue]), object([(String, JSONValue)])

    static func parse(_ bytes: [UInt8]) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes seeds (parsed once, in the parent); object keys come out sorted.
    init(from decoder: any Decoder) throws {
        if let c = try? decoder.container(keyedBy: AnyKey.self) {
            self = .object(try c.allKeys.sorted { $0.stringValue < $1.stringValue }.map { ($0.stringValue, try c.decode(JSONValue.self, forKey: $0)) })
        } else if var a = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !a.isAtEnd { items.append(try a.decode(JSONValue.self)) }
            self = .array(items)
        } else {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let i = try? c.decode(Int64.self) { self = .number(String(i)) }
            else if let d = try? c.decode(Double.self) { self = .number(String(d)) }
            else { self = .string(try c.decode(String.self)) }
        }
    }

    var text: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s):
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
                }
            }
            return out + "\""
        case .array(let a): return "[" + a.map(\.text).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.map { JSONValue.string($0.0).text + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }
}

/// Grammar-based generators: documents built from each format's structure with values drawn
/// from the edges of their domains.
///
/// Thread-safety: stateless namespace.
enum Grammar {
    static let numbers = ["0", "-0", "1", "-1", "2", "3", "7", "16", "0.5", "-0.5", "1e-320", "1e308", "1e400", "-1e400",
                          "65535", "65536", "2147483647", "2147483648", "-2147483649", "4294967296",
                          "9223372036854775807", "9223372036854775808", "-9223372036854775809",
                          "18446744073709551616", "1.7976931348623157e308", "0.1", "224", "197", "192", "1000000000"]
    static let strings = ["", "a", "circle", "walk", "F32", "F16", "BF16", "I64", "U8", "fifo", "sinks", "merge", "int8",
                          "kvvision.shapesworld.labels", "kvvision.eval", "frame", "stream", "standard", "hard", "é",
                          "\u{0}", String(repeating: "x", count: 300), "NaN", "Infinity", "../../etc/passwd"]

    static func number(_ rng: inout SplitMix64) -> String {
        switch rng.int(in: 0...3) {
        case 0: return numbers[rng.int(in: 0...(numbers.count - 1))]
        case 1: return String(rng.int(in: -5...300))
        case 2: return String(format: "%.3f", rng.uniform(-1000...1000))
        default: return String(Int64(bitPattern: rng.next()) >> Int64(rng.int(in: 0...63)))
        }
    }

    /// A random JSON value up to `depth` levels deep.
    static func value(_ rng: inout SplitMix64, depth: Int = 3) -> JSONValue {
        switch rng.int(in: 0...(depth > 0 ? 6 : 3)) {
        case 0: return .null
        case 1: return .bool(rng.chance(0.5))
        case 2: return .number(number(&rng))
        case 3: return .string(strings[rng.int(in: 0...(strings.count - 1))])
        case 4, 5: return .array((0..<rng.int(in: 0...4)).map { _ in value(&rng, depth: depth - 1) })
        default: return .object((0..<rng.int(in: 0...4)).map { _ in (strings[rng.int(in: 0...(strings.count - 1))], value(&rng, depth: depth - 1)) })
        }
    }

    /// A mutation of a JSON document's tree: values replaced by edge values, keys dropped or
    /// duplicated, arrays grown, shrunk or nested.
    static func mutate(_ v: JSONValue, _ rng: inout SplitMix64, rate: Double) -> JSONValue {
        if rng.chance(rate * 0.3) { return value(&rng, depth: 2) }
        switch v {
        case .number: return rng.chance(rate) ? .number(number(&rng)) : v
        case .string: return rng.chance(rate) ? .string(strings[rng.int(in: 0...(strings.count - 1))]) : v
        case .array(var a):
            a = a.map { mutate($0, &rng, rate: rate) }
            if rng.chance(rate), !a.isEmpty { a.remove(at: rng.int(in: 0...(a.count - 1))) }
            if rng.chance(rate), let first = a.first { a.append(contentsOf: Array(repeating: first, count: rng.int(in: 1...3))) }
            if rng.chance(rate * 0.5) { a.append(value(&rng, depth: 1)) }
            return .array(a)
        case .object(var o):
            o = o.map { ($0.0, mutate($0.1, &rng, rate: rate)) }
            if rng.chance(rate), !o.isEmpty { o.remove(at: rng.int(in: 0...(o.count - 1))) }
            if rng.chance(rate * 0.5), let pick = o.randomElement(using: &rng) { o.append((pick.0, value(&rng, depth: 1))) }
            if rng.chance(rate * 0.5) { o.append((strings[rng.int(in: 0...(strings.count - 1))], value(&rng, depth: 1))) }
            return .object(o)
        default: return v
        }
    }

    /// A document from `template`: a tree mutation, sometimes followed by raw text damage
    /// (truncation, a deep nest, a stray byte).
    static func document(_ template: JSONValue, _ rng: inout SplitMix64) -> [UInt8] {
        var text = mutate(template, &rng, rate: [0, 0.003, 0.01, 0.03, 0.1, 0.3][rng.int(in: 0...5)]).text
        switch rng.int(in: 0...9) {
        case 0: text = String(text.prefix(rng.int(in: 0...text.count)))
        case 1: text = String(repeating: "[", count: rng.int(in: 100...100_000)) + text
        case 2: return Mutator.havoc(Array(text.utf8), rounds: 3, splice: [], &rng)
        default: break
        }
        return Array(text.utf8)
    }

    // MARK: MOT text

    /// MOTChallenge text: `frame,id,x,y,w,h,score|flag,class,visibility[,…]` lines with edge values.
    static func mot(_ rng: inout SplitMix64, groundTruth: Bool) -> [UInt8] {
        let fieldEdge = ["", " ", "nan", "NaN", "inf", "-inf", "1e309", "-1", "0", "1e18", "9223372036854775808", "0x10",
                         "1,5", "+3", "3.", ".5", "1e-400", "abc", "\t7", "２"]
        var lines: [String] = []
        let frames = rng.int(in: 1...40), ids = rng.int(in: 1...8)
        let damage = [0, 0.002, 0.01, 0.05, 0.2][rng.int(in: 0...4)]
        var pairs: [(Int, Int)] = []
        for frame in 1...frames { for id in 1...ids where rng.chance(0.5) { pairs.append((frame, id)) } }
        if rng.chance(damage) { pairs.append(pairs.randomElement(using: &rng) ?? (1, 1)) }
        for (frame, id) in pairs.prefix(rng.int(in: 0...200)) {
            var f: [String] = [String(frame), String(id),
                               String(format: "%.2f", rng.uniform(-20...400)), String(format: "%.2f", rng.uniform(-20...300)),
                               String(format: "%.2f", rng.uniform(1...120)), String(format: "%.2f", rng.uniform(1...120)),
                               groundTruth ? String(rng.int(in: 0...1)) : String(format: "%.3f", rng.uniform(0...1))]
            if groundTruth || rng.chance(0.5) {
                f.append(groundTruth ? String(rng.int(in: 1...4)) : "-1")
                f.append(String(format: "%.3f", rng.uniform(0...1)))
            }
            if rng.chance(damage) { f.append(String(rng.int(in: -1...1))) }
            if rng.chance(damage) { f[rng.int(in: 0...(f.count - 1))] = fieldEdge[rng.int(in: 0...(fieldEdge.count - 1))] }
            if rng.chance(damage / 4) { f.removeLast(rng.int(in: 1...(f.count - 1))) }
            var line = f.joined(separator: rng.chance(0.03) ? ", " : ",")
            if rng.chance(damage / 4) { line += "\r" }
            lines.append(line)
        }
        if rng.chance(damage) { lines.insert("", at: rng.int(in: 0...lines.count)) }
        if rng.chance(damage) { lines.insert("# comment", at: 0) }
        var text = lines.joined(separator: "\n")
        if rng.chance(0.8) { text += "\n" }
        return Array(text.utf8)
    }

    // MARK: .npy

    /// A NumPy `.npy` file: magic, version, header dictionary and data, each from the edges.
    static func npy(_ rng: inout SplitMix64) -> [UInt8] {
        let descrs = ["<f4", "<f4", "<f2", ">f4", "<f8", "<i8", "|u1", "<c8", "|b1", "f4", "<f16", "", "<f4'", "O"]
        let dims = [0, 1, 2, 3, 5, 7, 16, -1, 1 << 31, 1 << 62, Int.max]
        var shape: [Int] = (0..<rng.int(in: 0...5)).map { _ in rng.chance(0.8) ? rng.int(in: 0...9) : dims[rng.int(in: 0...(dims.count - 1))] }
        if rng.chance(0.05) { shape = Array(repeating: 2, count: rng.int(in: 10...40)) }
        let shapeText = shape.isEmpty ? "()" : shape.count == 1 && rng.chance(0.7) ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let descr = descrs[rng.int(in: 0...(descrs.count - 1))]
        let fortran = ["False", "True", "0", "None", "'False'"][rng.chance(0.85) ? 0 : rng.int(in: 1...4)]
        var dict = "{'descr': '\(descr)', 'fortran_order': \(fortran), 'shape': \(shapeText), }"
        if rng.chance(0.1) { dict = dict.replacingOccurrences(of: "'shape'", with: ["'shap'", "\"shape\"", "'shape' "][rng.int(in: 0...2)]) }
        if rng.chance(0.05) { dict = String(dict.prefix(rng.int(in: 0...dict.count))) }
        var header = Array(dict.utf8)
        let version = rng.chance(0.85) ? UInt8(1) : UInt8(rng.int(in: 0...4))
        let prefix = version == 1 ? 10 : 12
        while (prefix + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        var length = header.count
        if rng.chance(0.08) { length = [0, 1, 0xFFFF, header.count + 64, header.count - 1, Int(UInt32.max)][rng.int(in: 0...5)] }
        if version == 1 {
            out += [UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8)]
        } else {
            out += (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        }
        out += header
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: max($1, 0)).partialValue }
        let product = max(0, count).multipliedReportingOverflow(by: 4)
        var dataBytes = product.overflow ? 1 << 16 : min(product.partialValue, 1 << 16)
        if rng.chance(0.2) { dataBytes = max(0, dataBytes + rng.int(in: -9...9)) }
        out += (0..<dataBytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        return rng.chance(0.15) ? Mutator.havoc(out, rounds: 2, splice: [], &rng) : out
    }

    // MARK: safetensors

    /// A safetensors file: u64 header length, a JSON header of tensor entries and metadata, data.
    static func safetensors(_ rng: inout SplitMix64, configs: [JSONValue]) -> [UInt8] {
        let dtypes = ["F32", "F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "f32", ""]
        let sizes = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "U8": 1, "BOOL": 1, "F8_E4M3": 1]
        var entries: [(String, JSONValue)] = []
        var offset = 0
        let names = ["patch_embed.proj.weight", "cls_token", "pos_embed", "blocks.0.norm1.weight", "norm.weight",
                     "temporal.q.weight", "a", "", "__metadata__x"]
        for i in 0..<rng.int(in: 0...6) {
            let dtype = dtypes[rng.int(in: 0...(dtypes.count - 1))]
            var shape = (0..<rng.int(in: 0...4)).map { _ in rng.int(in: 0...6) }
            if rng.chance(0.05) { shape.append([-1, 1 << 40, Int.max][rng.int(in: 0...2)]) }
            let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            let bytes = max(0, count).multipliedReportingOverflow(by: sizes[dtype] ?? 4).partialValue
            var offsets = [offset, offset &+ bytes]
            if rng.chance(0.1) { offsets = [rng.int(in: -2...64), rng.int(in: -2...64)] }
            if rng.chance(0.03) { offsets = [0] }
            offset = min(offsets.last ?? offset, 1 << 40)
            var fields: [(String, JSONValue)] = [("dtype", .string(dtype)), ("shape", .array(shape.map { .number(String($0)) })),
                                                 ("data_offsets", .array(offsets.map { .number(String($0)) }))]
            if rng.chance(0.05) { fields.remove(at: rng.int(in: 0...2)) }
            entries.append((rng.chance(0.9) ? names[i % names.count] + (i >= names.count ? "\(i)" : "") : names.randomElement(using: &rng)!, .object(fields)))
        }
        if rng.chance(0.6) {
            var meta: [(String, JSONValue)] = [("format", .string("pt"))]
            if let c = configs.randomElement(using: &rng), rng.chance(0.7) {
                meta.append(("kvvision.config", .string(String(decoding: document(c, &rng), as: UTF8.self))))
            }
            if rng.chance(0.1) { meta.append(("n", .number("1"))) }
            entries.insert(("__metadata__", .object(meta)), at: rng.int(in: 0...entries.count))
        }
        var header = Array(JSONValue.object(entries).text.utf8)
        if rng.chance(0.1) { header = Mutator.havoc(header, rounds: 2, splice: [], &rng) }
        var length = UInt64(header.count)
        if rng.chance(0.08) { length = [0, 1, UInt64(header.count + 1), UInt64.max, 1 << 40, UInt64(header.count - 1)][rng.int(in: 0...5)] }
        var out = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) } + header
        var data = min(max(0, offset), 1 << 16)
        if rng.chance(0.2) { data = max(0, data + rng.int(in: -7...7)) }
        out += (0..<data).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        return out
    }
}
