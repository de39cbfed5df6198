import Foundation
import Testing
@testable import KVVision

@Suite struct OutputTests {
    static let schemaURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/schema.json")

    static let sample: [OutputRecord] = [
        .stream(StreamRecord(source: "a \"b\".mp4", width: 320, height: 240, fps: 25, model: "m", modelHash: "00ff", inputSize: [224, 224],
                             every: 2, window: nil, kvPolicy: nil, kvStorage: nil, detections: "det.txt", connection: 1)),
        .frame(FrameRecord(frame: 4, pts: 0.16, position: 2, objects: [
            TrackedObject(id: 3, class: "circle", score: 0.91234, box: Box(x: 1.006, y: -0.001, w: 20, h: 30.5), state: .confirmed,
                          action: .init(label: "walk", score: 0.5)),
            TrackedObject(id: 4, class: nil, score: 0, box: Box(x: 1, y: 2, w: 3, h: 4), state: .lost)])),
        .gap(GapRecord(from: 1.5, to: 9, reason: "source_closed", connection: 2)),
        .end(EndRecord(framesDecoded: 10, framesAnalysed: 5, framesSkipped: 5, corrupt: 0, framesFailed: 0, reason: "error",
                       error: "x.mp4: truncated", tracks: 2, timings: ["encode": 1.23456])),
    ]

    /// The writers' number bytes (`JSONText.appendNumber`, no `String` per number) are `format`'s
    /// text exactly: over magnitudes from 10⁻⁷ to 10¹⁷, both signs, 0–15 decimals (all the fast
    /// path takes), halves, values that round to an integer, to zero or to tiny numbers Swift
    /// writes in exponent form.
    @Test func numberBytesAreFormatsText() {
        var rng = SplitMix64(seed: 2026)
        var values: [Double] = [0, -0.0, 1e-4, 0.0001, 0.00005, 0.000049, 1e-7, 0.5, 1.5, 2.5, -2.5, 0.125, 12.345, 1e15, 999_999_999_999_999,
                                1e16, 9_007_199_254_740_993, 85.08, 29.8, 0.339, 0.8525, 1234567.891011, .infinity, -.infinity, .nan,
                                Double.greatestFiniteMagnitude, Double.leastNonzeroMagnitude]
        for exponent in -7...17 {
            for _ in 0..<400 {
                let v = Double.random(in: 1..<10, using: &rng) * pow(10, Double(exponent))
                values.append(Bool.random(using: &rng) ? v : -v)
            }
        }
        var mismatches: [String] = []
        for v in values {
            for d in 0...15 {
                var bytes: [UInt8] = []
                JSONText.appendNumber(v, decimals: d, into: &bytes)
                let expected = JSONText.format(v, decimals: d)
                if String(decoding: bytes, as: UTF8.self) != expected { mismatches.append("\(v) at \(d): \(String(decoding: bytes, as: UTF8.self)) ≠ \(expected)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        var ints: [UInt8] = []
        for n in [0, 7, -7, 10, 1_000_000, Int.max, Int.min] { ints.removeAll(); JSONText.appendInteger(n, into: &ints); #expect(String(decoding: ints, as: UTF8.self) == String(n)) }
    }

    @Test func jsonLinesAreDeterministicAndRoundTrip() throws {
        let lines = Self.sample.map { $0.jsonLine() }
        #expect(lines[1] == #"{"type":"frame","v":1,"frame":4,"pts":0.16,"position":2,"objects":[{"id":3,"class":"circle","score":0.9123,"box":[1.01,0,20,30.5],"state":"confirmed","action":{"label":"walk","score":0.5}},{"id":4,"score":0,"box":[1,2,3,4],"state":"lost"}]}"#)
        #expect(lines[0].contains(#""source":"a \"b\".mp4""#))
        for (record, line) in zip(Self.sample, lines) {
            let back = try OutputRecord.decode(line: line)
            #expect(back.jsonLine() == line, "decode(jsonLine) writes the same line")
            #expect(back.type == record.type)
        }
        #expect(throws: (any Error).self) { try OutputRecord.decode(line: #"{"type":"frame","v":2,"frame":0,"pts":0,"position":0,"objects":[]}"#) }
        #expect(throws: (any Error).self) { try OutputRecord.decode(line: #"{"type":"nope","v":1}"#) }
    }

    @Test func everyRecordValidatesAgainstTheSchema() throws {
        let validator = try SchemaValidator(schemaURL: Self.schemaURL)
        for r in Self.sample { #expect(validator.errors(line: r.jsonLine()) == [], "\(r.type)") }
        let event = EventRecord(event: .new, frame: 0, pts: 0, object: TrackedObject(id: 1, class: "x", score: 1, box: Box(x: 0, y: 0, w: 1, h: 1), state: .confirmed), frames: 1)
        #expect(validator.errors(line: event.jsonLine()) == [])
        // The validator does reject what the schema forbids.
        #expect(!validator.errors(line: #"{"type":"frame","v":1,"frame":0,"pts":0,"position":0,"objects":[{"id":1,"score":1,"box":[1,2,3],"state":"confirmed"}]}"#).isEmpty)
        #expect(!validator.errors(line: #"{"type":"end","v":1}"#).isEmpty)
        #expect(!validator.errors(line: #"{"type":"stream","v":1,"source":"s","width":1,"height":1,"every":1,"detections":"d","connection":1,"extra":1}"#).isEmpty)
    }

    @Test func motWriterWritesOneBasedFramesWithoutLostTracks() throws {
        let out = TextOutput.memory()
        let w = MOTWriter(out)
        for r in Self.sample { try w.write(r) }
        #expect(out.captured == "5,3,1.01,0,20,30.5,0.9123,-1,-1,-1\n")
    }

    @Test func eventsPairNewWithEnd() throws {
        let out = TextOutput.memory()
        let w = EventsWriter(out)
        func frame(_ n: Int, _ ids: [Int], state: TrackedObject.State = .confirmed) -> OutputRecord {
            .frame(FrameRecord(frame: n, pts: Double(n), position: n, objects: ids.map { TrackedObject(id: $0, class: "c", score: 1, box: Box(x: 0, y: 0, w: 1, h: 1), state: state) }))
        }
        try w.write(Self.sample[0])
        try w.write(frame(0, [1, 2]))
        try w.write(frame(1, [1, 2]))
        try w.write(frame(2, [2], state: .lost))
        try w.write(Self.sample[3])
        let events = out.captured.split(separator: "\n").filter { $0.contains(#""type":"event""#) }.map { try? EventRecord.decode(line: $0) }
        let summary = events.compactMap { $0.map { "\($0.event.rawValue)\($0.object.id)" } }
        #expect(summary == ["new1", "new2", "update2", "end1", "end2"])
    }

    @Test func evalReadsOutputRecordsAndSkipsLostObjects() throws {
        let text = Self.sample.map { $0.jsonLine() }.joined(separator: "\n") + "\n"
        let p = try Predictions.parse(text, path: "t.jsonl")
        #expect(p.rows.count == 1 && p.rows[0].frame == 5 && p.rows[0].id == 3 && p.rows[0].className == "circle" && p.rows[0].action == "walk")
    }
}
