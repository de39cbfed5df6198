import Foundation
import Testing
@testable import KVVision

/// The strict .npy reader/writer.
@Suite struct NpyFileTests {
    @Test func roundTripsShapesIncludingScalarsAndEmpty() throws {
        for shape in [[], [0], [5], [2, 3], [1, 2, 3, 4]] {
            let n = shape.reduce(1, *)
            let t = try Tensor(shape: shape, storage: (0..<n).map { Float($0) * 0.5 - 1 })
            let bytes = NpyFile.encode(t)
            #expect((bytes.count - n * 4) % 64 == 0)
            #expect(try NpyFile.decode(bytes, path: "x.npy") == t)
        }
    }

    @Test func readsFixtureWrittenByNumPy() throws {
        let t = try NpyFile.read(path: TestFiles.fixture("vit/input.npy").path)
        #expect(t.shape == [2, 3, 32, 48])
    }

    static func npy(_ header: String, dataBytes: Int) -> [UInt8] {
        var h = Array(header.utf8)
        h.append(0x0A)
        return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h + [UInt8](repeating: 0, count: dataBytes)
    }

    @Test func rejectsEverythingButFloat32LittleEndianCOrder() {
        let cases: [(String, Int)] = [
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16),
            ("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8),
            ("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 8),
            ("{'descr': '<f4', 'fortran_order': False}", 4),
        ]
        func isFormatError(_ error: any Error) -> Bool {
            if case .npyFormat(path: "x.npy", _)? = error as? TensorError { return true }
            return false
        }
        for (header, n) in cases {
            #expect("\(header)", performing: { try NpyFile.decode(Self.npy(header, dataBytes: n), path: "x.npy") },
                    throws: isFormatError)
        }
        #expect(performing: { try NpyFile.decode([1, 2, 3], path: "x.npy") }, throws: isFormatError)
        #expect(performing: { try NpyFile.read(path: "/nonexistent.npy") }, throws: { error in
            if case .io(path: "/nonexistent.npy", _)? = error as? TensorError { return true }
            return false
        })
    }
}
