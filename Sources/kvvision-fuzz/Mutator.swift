import KVVision

/// Byte-level and structure-aware mutations of a seed input.
///
/// Invariants: every mutation is a pure function of the seed bytes and the generator, so an input
/// is reproduced exactly from (kind, campaign seed, index); outputs are capped at `maxSize` bytes.
///
/// Thread-safety: stateless namespace.
enum Mutator {
    static let maxSize = 4 << 20

    /// Values that break length fields and counters.
    static let interesting32: [UInt32] = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000,
                                          0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x1000_0000]
    static let interesting8: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x0A, 0x2C, 0x22, 0x7B, 0x5B]

    /// 1…`rounds` random byte-level mutations of `input`; `splice` supplies bytes of other seeds.
    static func havoc(_ input: [UInt8], rounds: Int = 6, splice: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        for _ in 0..<rng.int(in: 1...rounds) { mutateOnce(&b, splice: splice, &rng) }
        if b.count > maxSize { b.removeSubrange(maxSize...) }
        return b
    }

    static func mutateOnce(_ b: inout [UInt8], splice: [UInt8], _ rng: inout SplitMix64) {
        if b.isEmpty { b = Array(splice.prefix(64)); if b.isEmpty { b = [0] } }
        let at = rng.int(in: 0...(b.count - 1))
        switch rng.int(in: 0...11) {
        case 0: b[at] ^= UInt8(1) << UInt8(rng.int(in: 0...7))
        case 1: b[at] = UInt8(truncatingIfNeeded: rng.next())
        case 2: b[at] = interesting8[rng.int(in: 0...(interesting8.count - 1))]
        case 3: writeInt(&b, at: at, interesting32[rng.int(in: 0...(interesting32.count - 1))], bigEndian: rng.chance(0.5))
        case 4:  // add or subtract a small amount from a 32-bit field
            let v = readInt(b, at: at, bigEndian: true)
            writeInt(&b, at: at, v &+ UInt32(bitPattern: Int32(rng.int(in: -16...16))), bigEndian: true)
        case 5: b.removeSubrange(at..<min(b.count, at + rng.int(in: 1...max(1, min(256, b.count / 8)))))
        case 6:  // duplicate a block
            let len = rng.int(in: 1...max(1, min(1024, b.count - at)))
            b.insert(contentsOf: b[at..<(at + len)], at: rng.int(in: 0...b.count))
        case 7: b.insert(contentsOf: (0..<rng.int(in: 1...32)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
        case 8: b.removeSubrange(rng.int(in: 0...b.count)...)  // truncate
        case 9:  // splice another seed's bytes over this one
            guard !splice.isEmpty else { return }
            let from = rng.int(in: 0...(splice.count - 1))
            let len = min(splice.count - from, rng.int(in: 1...512))
            let end = min(b.count, at + len)
            b.replaceSubrange(at..<end, with: splice[from..<(from + len)])
        case 10:  // copy a block within the input
            let from = rng.int(in: 0...(b.count - 1))
            let len = min(b.count - from, b.count - at, rng.int(in: 1...128))
            let block = Array(b[from..<(from + len)])
            b.replaceSubrange(at..<(at + len), with: block)
        default:  // fill a run with one byte
            let len = min(b.count - at, rng.int(in: 1...64))
            let v = interesting8[rng.int(in: 0...(interesting8.count - 1))]
            for i in at..<(at + len) { b[i] = v }
        }
    }

    static func readInt(_ b: [UInt8], at: Int, bigEndian: Bool) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<4 where at + i < b.count {
            v |= UInt32(b[at + i]) << (bigEndian ? UInt32(24 - 8 * i) : UInt32(8 * i))
        }
        return v
    }

    static func writeInt(_ b: inout [UInt8], at: Int, _ v: UInt32, bigEndian: Bool) {
        for i in 0..<4 where at + i < b.count {
            b[at + i] = UInt8(truncatingIfNeeded: bigEndian ? v >> UInt32(24 - 8 * i) : v >> UInt32(8 * i))
        }
    }

    // MARK: structure-aware

    /// Offsets of ISO-BMFF (mp4) box headers: 32-bit big-endian size then a four-letter type.
    static func mp4Boxes(_ b: [UInt8]) -> [Int] {
        let containers: Set<String> = ["moov", "trak", "mdia", "minf", "stbl", "edts", "dinf", "udta", "mvex", "moof", "traf"]
        var result: [Int] = []
        func walk(_ start: Int, _ end: Int, depth: Int) {
            var p = start
            while p + 8 <= end, depth < 8, result.count < 512 {
                let size = Int(readInt(b, at: p, bigEndian: true))
                let type = String(decoding: b[(p + 4)..<(p + 8)], as: UTF8.self)
                result.append(p)
                guard size >= 8, p + size <= end else { return }
                if containers.contains(type) { walk(p + 8, p + size, depth: depth + 1) }
                if type == "stsd" || type == "avc1" { walk(p + 16, p + size, depth: depth + 1) }
                p += size
            }
        }
        walk(0, b.count, depth: 0)
        return result
    }

    /// Offsets of RIFF (avi) chunk headers: four-letter id then 32-bit little-endian size.
    static func riffChunks(_ b: [UInt8]) -> [Int] {
        var result: [Int] = []
        func walk(_ start: Int, _ end: Int, depth: Int) {
            var p = start
            while p + 8 <= end, depth < 6, result.count < 512 {
                let id = String(decoding: b[p..<(p + 4)], as: UTF8.self)
                let size = Int(readInt(b, at: p + 4, bigEndian: false))
                result.append(p)
                guard p + 8 + size <= end else { return }
                if id == "RIFF" || id == "LIST" { walk(p + 12, p + 8 + size, depth: depth + 1) }
                p += 8 + size + (size & 1)
            }
        }
        walk(0, b.count, depth: 0)
        return result
    }

    /// Start offsets of H.264 Annex B NAL units (after each 00 00 01 start code).
    static func nalUnits(_ b: [UInt8]) -> [Range<Int>] {
        var starts: [Int] = []
        var i = 0
        while i + 3 <= b.count {
            if b[i] == 0, b[i + 1] == 0, b[i + 2] == 1 { starts.append(i + 3); i += 3 } else { i += 1 }
        }
        return starts.enumerated().map { n, s in s..<(n + 1 < starts.count ? starts[n + 1] - 3 : b.count) }
    }

    /// A structure-aware mutation for a video container: box/chunk sizes, counts and NAL units.
    static func video(_ input: [UInt8], container: String, splice: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        switch container {
        case "mp4":
            let boxes = mp4Boxes(b)
            guard !boxes.isEmpty else { break }
            for _ in 0..<rng.int(in: 1...3) {
                let p = boxes[rng.int(in: 0...(boxes.count - 1))]
                switch rng.int(in: 0...3) {
                case 0: writeInt(&b, at: p, interesting32[rng.int(in: 0...(interesting32.count - 1))], bigEndian: true)
                case 1: writeInt(&b, at: p, readInt(b, at: p, bigEndian: true) &+ UInt32(bitPattern: Int32(rng.int(in: -9...9))), bigEndian: true)
                case 2:  // a table count or version/flags word inside the box
                    writeInt(&b, at: min(b.count - 1, p + 8 + 4 * rng.int(in: 0...4)), interesting32[rng.int(in: 0...(interesting32.count - 1))], bigEndian: true)
                default:  // drop the box's first bytes (misaligns every later header)
                    b.removeSubrange(p..<min(b.count, p + rng.int(in: 1...16)))
                }
            }
        case "avi":
            let chunks = riffChunks(b)
            guard !chunks.isEmpty else { break }
            for _ in 0..<rng.int(in: 1...3) {
                let p = chunks[rng.int(in: 0...(chunks.count - 1))]
                if rng.chance(0.6) {
                    writeInt(&b, at: p + 4, interesting32[rng.int(in: 0...(interesting32.count - 1))], bigEndian: false)
                } else {  // a field inside the chunk (avih/strh/strf counts, dimensions, rates)
                    writeInt(&b, at: min(b.count - 1, p + 8 + 4 * rng.int(in: 0...12)), interesting32[rng.int(in: 0...(interesting32.count - 1))], bigEndian: false)
                }
            }
        case "h264":
            let nals = nalUnits(b)
            guard !nals.isEmpty else { break }
            var units = nals.map { Array(b[$0]) }
            for _ in 0..<rng.int(in: 1...3) {
                let k = rng.int(in: 0...(units.count - 1))
                switch rng.int(in: 0...4) {
                case 0: units.remove(at: k); if units.isEmpty { units = [[0x65]] }
                case 1: units.insert(units[k], at: rng.int(in: 0...units.count))
                case 2: units.swapAt(k, rng.int(in: 0...(units.count - 1)))
                case 3: units[k] = havoc(units[k], rounds: 4, splice: splice, &rng)
                default: units[k] = Array(units[k].prefix(rng.int(in: 0...units[k].count)))
                }
            }
            b = units.flatMap { [0, 0, 0, 1] + $0 }
        default:  // mkv: EBML sizes are variable-length; plant size bytes meaning "unknown" / huge
            let sizes: [[UInt8]] = [[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0xFF], [0x80], [0x08, 0, 0, 0, 0],
                                    [0x1F, 0xFF, 0xFF, 0xFF], [0x40, 0x00], [0x10, 0xFF, 0xFF, 0xFF]]
            for _ in 0..<rng.int(in: 1...3) where !b.isEmpty {
                let s = sizes[rng.int(in: 0...(sizes.count - 1))]
                let at = rng.int(in: 0...(b.count - 1))
                b.replaceSubrange(at..<min(b.count, at + s.count), with: s)
            }
        }
        return rng.chance(0.3) ? havoc(b, rounds: 3, splice: splice, &rng) : b
    }
}
