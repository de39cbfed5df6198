import Foundation

/// FNV-1a 64-bit hash: a fast, stable fingerprint (not cryptographic) for naming a model file's
/// content in output records.
///
/// Thread-safety: stateless.
public enum FNV1a {
    /// The hash of `bytes`.
    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// 16 hex digits of the hash of a file's bytes (memory-mapped), nil when it cannot be read.
    public static func fileHex(_ path: String) -> String? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { return nil }
        let s = String(hash(data), radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
