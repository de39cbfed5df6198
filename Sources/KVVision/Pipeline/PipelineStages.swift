/// The stages of a `StreamPipeline`, each behind a small protocol so that tests (and other
/// front ends) can feed synthetic frames and detections without video files or trained heads.
///
/// Thread-safety: every stage object belongs to one pipeline and is called by one thread at a time
/// (with lanes, each lane's objects by that lane's thread, and the frame provider by whichever lane
/// decodes next, under a lock); objects shared between lanes (a model, a `DetectionFile`) must be
/// immutable.

/// Delivers decoded frames of one stream.
public protocol FrameProvider: AnyObject {
    /// The input as given (path, URL, `-`, or a name for synthetic sources).
    var source: String { get }
    /// Source picture size and frames per second (when known).
    var sourceSize: (width: Int, height: Int) { get }
    var fps: Double? { get }
    /// The next frame, nil at the end; throws once, after every decodable frame, when the input
    /// is damaged or stops answering.
    func next() throws(PipelineError) -> VideoFrame?
    /// Frames decoded so far, those skipped by a stride, and corrupt packets/frames skipped.
    var counters: (decoded: Int, skipped: Int, corrupt: Int) { get }
    /// Why delivery ended (`end_of_file`, `source_closed`, `frame_limit`), nil while running.
    var endReason: String? { get }
    /// True when frames arrive in real time (a network camera): `next()` may wait for the next
    /// frame to happen, so a pipeline never reads ahead of the frame it still has to report.
    var isLive: Bool { get }
}

extension FrameProvider {
    /// Files and synthetic sources deliver as fast as they are read.
    public var isLive: Bool { false }
}

/// Finds objects in a frame. `tokens` are the encoder's tokens of this frame when the pipeline
/// runs an encoder (a trained `det` head reads them), nil otherwise.
public protocol Detector: AnyObject {
    /// What the `stream` record names as the detections' origin (`model` or a file path).
    var origin: String { get }
    func detect(_ frame: VideoFrame, tokens: Tensor?) throws(PipelineError) -> [Detection]
}

/// Describes detections by appearance: one unit vector per box (source pixels), used by the
/// tracker's association and re-identification. Implementations: `TokenAppearance` (pooled
/// encoder tokens); a trained `tok`/`asso` head plugs in here.
public protocol AppearanceModel: AnyObject {
    /// Analyses the frame (runs the encoder once); the tokens stay available until the next call.
    func prepare(_ frame: VideoFrame) throws(PipelineError)
    /// The encoder tokens of the last prepared frame, if any.
    var tokens: Tensor? { get }
    /// One unit vector per box of the last prepared frame.
    func embeddings(for boxes: [Box], in frame: VideoFrame) -> [[Float]]
    /// Of the last `prepare`, the nanoseconds spent in heads run after the encoder (0 when none).
    var headNanoseconds: UInt64 { get }
}

extension AppearanceModel {
    public var headNanoseconds: UInt64 { 0 }
}

/// Turns detections into tracks (the library's `Tracker` is one).
public protocol ObjectTracker {
    /// `bounds`: the frame in the boxes' coordinates (boxes touching its edge are partial views).
    mutating func update(position: Int, detections: [Detection], appearances: [[Float]]?,
                         associations: AssociationProbabilities?, bounds: Box?) throws(TrackingError) -> [Track]
    /// Ids confirmed so far.
    var lastID: Int { get }
    /// Every live track (tentative, confirmed, lost), in creation order.
    var tracks: [Track] { get }
}

/// The temporal heads around the tracker: association probabilities before it, and after it the
/// tracks' tokens written to the stream's windows and their actions read back
/// (`ModelSession` with a trained model).
public protocol TemporalModel: AnyObject {
    /// P(track | detection) of this frame's detections (rows, as handed to the tracker) over the
    /// live tracks `candidates` (columns by `Track.key`); nil when there is nothing to compare.
    func associate(_ detections: [Detection], candidates: [Track], position: Int) throws(PipelineError) -> AssociationProbabilities?
    /// Records the tracks matched at `position` (`tracks`: every live track after the update;
    /// `Track.detectionIndex` points into `detections`) and returns their actions by `Track.key`.
    func observe(_ tracks: [Track], detections: [Detection], position: Int) throws(PipelineError) -> [Int: TrackedObject.Action]
}

extension Tracker: ObjectTracker {}
