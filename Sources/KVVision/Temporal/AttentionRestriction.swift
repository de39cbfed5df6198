/// Which cached tokens each query of a temporal step may attend to.
///
/// Owners are the ids given per token when frames are written (Tracking uses track ids; the scene
/// token conventionally has owner 0). Thread-safety: an immutable value.
public enum AttentionRestriction: Sendable, Equatable {
    /// Every resident token.
    case all
    /// Only tokens whose owner is in the list (for every query).
    case owners([Int])
    /// For each query, only tokens with the same owner as that query's own token.
    case sameOwner
}
