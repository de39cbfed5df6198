import Foundation

/// A strict reader and writer of NumPy `.npy` files holding one float32 array.
///
/// Format (NPY 1.0/2.0/3.0): magic `\x93NUMPY`, major and minor version bytes, header length
/// (UInt16 LE for 1.x, UInt32 LE for 2.x/3.x), an ASCII/UTF-8 Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (…), }` padded with spaces and `\n`, then the
/// raw data. Accepted: `descr` exactly `<f4` (float32, little-endian), `fortran_order` False, a
/// shape of non-negative integers, and exactly `count × 4` data bytes. Anything else is a
/// `TensorError.npyFormat` naming the problem. Writing always produces version 1.0 with the
/// header padded so that the data starts at a multiple of 64 bytes.
///
/// Thread-safety: stateless.
public enum NpyFile {
    /// Reads the array at `path`.
    public static func read(path: String) throws(TensorError) -> Tensor {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .io(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        return try decode([UInt8](data), path: path)
    }

    /// Decodes `.npy` bytes; `path` is only used in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(TensorError) -> Tensor {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw .npyFormat(path: path, problem: "missing \\x93NUMPY magic") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw .npyFormat(path: path, problem: "truncated header length") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw .npyFormat(path: path, problem: "unsupported version \(major)")
        }
        guard headerStart + headerLength <= bytes.count else { throw .npyFormat(path: path, problem: "header length \(headerLength) past end of file") }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw .npyFormat(path: path, problem: "header is not text")
        }
        let descr = try field("descr", in: header, path: path)
        guard descr == "'<f4'" || descr == "\"<f4\"" else {
            throw .npyFormat(path: path, problem: "dtype \(descr) (only float32 little-endian '<f4' is supported)")
        }
        let order = try field("fortran_order", in: header, path: path)
        guard order == "False" else { throw .npyFormat(path: path, problem: "fortran_order \(order) (only C order is supported)") }
        let shapeText = try field("shape", in: header, path: path)
        guard shapeText.hasPrefix("("), shapeText.hasSuffix(")") else { throw .npyFormat(path: path, problem: "shape \(shapeText) is not a tuple") }
        var shape: [Int] = []
        for part in shapeText.dropFirst().dropLast().split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let d = Int(t), d >= 0, d <= 1 << 40 else { throw .npyFormat(path: path, problem: "bad dimension '\(t)' in shape") }
            shape.append(d)
        }
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= 1 << 40 else { throw .npyFormat(path: path, problem: "shape \(shape) too large") }
            count = p
        }
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == count * 4 else {
            throw .npyFormat(path: path, problem: "shape \(shape) needs \(count * 4) data bytes, file has \(bytes.count - dataStart)")
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[dataStart...])) }
        }
        #if _endian(big)
        for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
        #endif
        return try Tensor(shape: shape, storage: values)
    }

    /// The `.npy` bytes of `tensor` (float32, little-endian, C order, version 1.0).
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        var out = header(descr: "<f4", shape: tensor.shape)
        tensor.storage.withUnsafeBytes { out.append(contentsOf: $0) }
        return out
    }

    /// The version 1.0 preamble and header for a C-order array of `descr` (e.g. `<f4`, `|u1`) and
    /// `shape`, padded so that the data that follows starts at a multiple of 64 bytes.
    public static func header(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.map(String.init)
        let shapeText = dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        let n = header.utf8.count
        out += [UInt8(n & 0xFF), UInt8(n >> 8)]
        out += Array(header.utf8)
        return out
    }

    /// Writes `tensor` to `path` atomically.
    public static func write(_ tensor: Tensor, to path: String) throws(TensorError) {
        do { try Data(encode(tensor)).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .io(path: path, message: "cannot write: \(error.localizedDescription)")
        }
    }

    /// The raw value text of `key` in the header dict (up to the matching `,` at depth 0).
    private static func field(_ key: String, in header: String, path: String) throws(TensorError) -> String {
        let chars = Array(header)
        for quote in ["'", "\""] {
            let pattern = Array(quote + key + quote)
            guard let start = (0...max(0, chars.count - pattern.count)).first(where: { chars.count >= pattern.count && Array(chars[$0..<($0 + pattern.count)]) == pattern }) else { continue }
            var i = start + pattern.count
            while i < chars.count, chars[i] == " " { i += 1 }
            guard i < chars.count, chars[i] == ":" else { break }
            i += 1
            var depth = 0
            var value = ""
            while i < chars.count {
                let c = chars[i]
                if c == "(" { depth += 1 }
                if c == ")" { depth -= 1 }
                if (c == "," && depth == 0) || (c == "}" && depth <= 0) { break }
                value.append(c)
                i += 1
            }
            return value.trimmingCharacters(in: .whitespaces)
        }
        throw .npyFormat(path: path, problem: "header has no '\(key)'")
    }
}
