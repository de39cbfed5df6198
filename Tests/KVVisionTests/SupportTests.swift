import Foundation
import Testing
@testable import KVVision

/// Support/: the one JSON-error describer and the shared labels identity.
@Suite struct SupportTests {
    private struct Doc: Decodable {
        struct Item: Decodable { var n: Int }
        var items: [Item]
    }

    private func reason(_ json: String) -> String {
        do { _ = try JSONDecoder().decode(Doc.self, from: Data(json.utf8)); return "decoded" } catch {
            return JSONErrorReason.describe(error)
        }
    }

    @Test func decodingErrorsBecomeOneLineWithTheKeyPath() {
        #expect(reason("{") == "not valid JSON")
        #expect(reason("{}") == "missing key 'items'")
        #expect(reason(#"{"items":[{}]}"#) == "missing key 'n' in items[0]")
        #expect(reason(#"{"items":[{"n":1},{"n":"x"}]}"#) == "items[1].n: expected Int")
        #expect(reason(#"{"items":[{"n":null}]}"#) == "items[0].n: expected Int, found null")
        for text in ["{", "{}", #"{"items":[{"n":1.5}]}"#] { #expect(!reason(text).contains("\n")) }
    }

    @Test func aTypesOwnRejectionKeepsItsMessage() {
        let error = JSONErrorReason.describe(DecodingError.dataCorrupted(.init(
            codingPath: [], debugDescription: "ignored at top level")))
        #expect(error == "not valid JSON")
        do {
            _ = try JSONDecoder().decode(ScenarioConfig.self, from: Data(#"{"preset":"extreme"}"#.utf8))
            Issue.record("accepted")
        } catch {
            #expect(JSONErrorReason.describe(error).hasPrefix("preset: "))
            #expect(JSONErrorReason.describe(error).contains("extreme"))
        }
    }

    @Test func labelsWrittenBySynthCarryTheSharedFormat() throws {
        var c = try ScenarioConfig.preset("easy")
        c.width = 64; c.height = 48; c.duration = 0.2; c.objectSize = 8...16
        let data = try SynthLabels(script: SceneScript(config: c, seed: 3)).encoded()
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect(object?["format"] as? String == ShapesWorldLabelsFormat.name)
        #expect(object?["version"] as? Int == ShapesWorldLabelsFormat.version)
        let keys = (object?["scenario"] as? [String: Any])?.keys.sorted() ?? []
        #expect(keys.contains("object_size") && !keys.contains { $0.contains(where: \.isUppercase) })
    }
}
