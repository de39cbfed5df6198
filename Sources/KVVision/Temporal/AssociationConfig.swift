/// Settings of owner association over a KV window: the pinned memory of lost owners and when it
/// takes part (see `OwnerAssociation` for the formula).
///
/// JSON keys are snake_case: `{"pinned_owners": 32, "pinned_use": "when_absent"}`; absent fields
/// take the defaults `pinned_owners` 0 (no pinned memory: association sees resident tokens only)
/// and `pinned_use` `when_absent`. The learned null ("new track") logit is a model weight and is
/// passed to each association call, not configured here.
///
/// Thread-safety: an immutable-by-convention value.
public struct AssociationConfig: Codable, Sendable, Equatable {
    /// L: owners whose evicted tokens are summarised (running mean of keys and values with its
    /// weight), 0…4096. When a new owner needs an entry and all L are taken, the entry updated
    /// least recently is dropped (a lost owner's entry stops being updated when it leaves).
    public var pinnedOwners: Int
    /// When an owner's pinned memory joins its association score.
    public var pinnedUse: PinnedUse

    /// When pinned memory takes part in association.
    public enum PinnedUse: String, Codable, Sendable, CaseIterable {
        /// Only for an owner with no resident token (lost for longer than the window): its score is
        /// then exp(q·k̄/√d) exactly, whatever the memory's weight.
        case whenAbsent = "when_absent"
        /// Always, as one more token of weight m (the evicted tokens' total weight): the owner's score
        /// averages its resident tokens and the memory as if all its evicted tokens had key k̄.
        case always
    }

    public init(pinnedOwners: Int = 0, pinnedUse: PinnedUse = .whenAbsent) {
        self.pinnedOwners = pinnedOwners
        self.pinnedUse = pinnedUse
    }

    private enum CodingKeys: String, CodingKey {
        case pinnedOwners = "pinned_owners", pinnedUse = "pinned_use"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pinnedOwners = try c.decodeIfPresent(Int.self, forKey: .pinnedOwners) ?? 0
        pinnedUse = try c.decodeIfPresent(PinnedUse.self, forKey: .pinnedUse) ?? .whenAbsent
    }

    /// Checks ranges; throws `.invalidConfig` naming the first bad field.
    public func validate() throws(TemporalError) {
        try TemporalError.require((0...4096).contains(pinnedOwners), "association.pinned_owners", pinnedOwners, "must be in 0...4096")
    }

    /// Bytes of the pinned memory for rows of `width` channels: per entry an Int32 owner, a Double
    /// weight, an Int update stamp, and f32 key and value means.
    public func pinnedBytes(width: Int) -> Int {
        pinnedOwners * (MemoryLayout<Int32>.stride + MemoryLayout<Double>.stride + MemoryLayout<Int>.stride
            + 2 * width * MemoryLayout<Float>.stride)
    }
}
