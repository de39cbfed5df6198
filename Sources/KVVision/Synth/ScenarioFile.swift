import Foundation

/// Reads a ShapesWorld scenario from JSON: either a `ScenarioConfig` object (every key optional,
/// missing keys from its `"preset"`, default `standard`) or a whole `labels.json` written by
/// `kvvision synth`, whose `"scenario"` and `"seed"` reproduce that clip exactly.
///
/// Thread-safety: stateless.
public enum ScenarioFile {
    /// The scenario in `path`, and the seed when the file is a labels.json. The scenario is validated.
    public static func read(_ path: String) throws(SynthError) -> (config: ScenarioConfig, seed: UInt64?) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .scenarioFile(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        struct Labels: Decodable { var format: String?; var version: Int?; var scenario: ScenarioConfig?; var seed: UInt64? }
        let config: ScenarioConfig
        var seed: UInt64?
        do {
            let labels = try JSONDecoder().decode(Labels.self, from: data)
            if labels.format == ShapesWorldLabelsFormat.name {
                guard labels.version == ShapesWorldLabelsFormat.version else {
                    throw SynthError.scenarioFile(path: path, reason: "labels.json version \(labels.version.map(String.init) ?? "absent"), expected \(ShapesWorldLabelsFormat.version) (regenerate it with this kvvision)")
                }
                guard let scenario = labels.scenario else { throw SynthError.scenarioFile(path: path, reason: "labels.json without \"scenario\"") }
                config = scenario
                seed = labels.seed
            } else {
                config = try JSONDecoder().decode(ScenarioConfig.self, from: data)
            }
        } catch let error as SynthError {
            throw error
        } catch let error as DecodingError {
            throw .scenarioFile(path: path, reason: JSONErrorReason.describe(error))
        } catch {
            throw .scenarioFile(path: path, reason: "\(error)")
        }
        do { try config.validate() } catch { throw .scenarioFile(path: path, reason: error.description) }
        return (config, seed)
    }
}
