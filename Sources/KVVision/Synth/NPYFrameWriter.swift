/// Streams RGB24 frames into a NumPy `.npy` file (format version 1.0): a `uint8` array of shape
/// `(frames, height, width, 3)`, C order.
///
/// File layout: magic `\x93NUMPY`, bytes `1 0`, a little-endian `UInt16` header length, the
/// header (a Python dict literal `{'descr': '|u1', 'fortran_order': False, 'shape': (F, H, W, 3), }`
/// padded with spaces and ended by `\n` so the data starts at a multiple of 64), then the frames.
/// `numpy.load(path)` or `numpy.load(path, mmap_mode='r')` reads it.
///
/// Invariants: exactly `frames` frames must be appended before `finish()`, which checks it; the
/// file appears under its name only then (`StagedFile`).
///
/// Thread-safety: a reference type owning a file handle; one thread at a time.
public final class NPYFrameWriter {
    public let path: String
    public let frames: Int, width: Int, height: Int
    private let file: StagedFile
    private var written = 0

    /// Starts `path` (staged as `path.partial` until `finish()`) and writes the header.
    public init(path: String, frames: Int, width: Int, height: Int) throws(SynthError) {
        self.path = path
        self.frames = frames
        self.width = width
        self.height = height
        file = try StagedFile(path: path)
        try file.append(NpyFile.header(descr: "|u1", shape: [frames, height, width, 3]))
    }

    /// Appends one frame (`width × height × 3` bytes).
    public func append(_ rgb: [UInt8]) throws(SynthError) {
        guard rgb.count == width * height * 3 else { throw .bufferSize(expected: width * height * 3, got: rgb.count) }
        guard written < frames else { throw .write(path: path, reason: "more than the \(frames) frames in the header") }
        try file.append(rgb)
        written += 1
    }

    /// Checks the frame count and moves the file to `path`.
    public func finish() throws(SynthError) {
        guard written == frames else { throw .write(path: path, reason: "\(written) frames written, header says \(frames)") }
        try file.commit()
    }
}
