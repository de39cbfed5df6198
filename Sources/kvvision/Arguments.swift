/// A hand-written command-line argument list for one subcommand.
///
/// Options are `--name value` or `--name=value`; flags are `--name`. Consume options and flags
/// first, then positionals, then call `finish()`, which rejects anything left over.
///
/// Thread-safety: a value type used from the main thread only.
struct Arguments {
    private(set) var items: [String]

    init(_ items: [String]) { self.items = items }

    /// True when `--help` or `-h` is present.
    var wantsHelp: Bool { items.contains("--help") || items.contains("-h") }

    /// True when nothing is left.
    var isEmpty: Bool { items.isEmpty }

    /// Removes and reports a boolean flag.
    mutating func flag(_ name: String) -> Bool {
        guard let i = items.firstIndex(of: name) else { return false }
        items.remove(at: i)
        return true
    }

    /// Removes and returns the value of `--name value` / `--name=value`, or nil when absent.
    mutating func option(_ name: String) throws(UsageError) -> String? {
        if let i = items.firstIndex(of: name) {
            guard i + 1 < items.count else { throw UsageError("option \(name) needs a value") }
            let value = items[i + 1]
            items.removeSubrange(i...(i + 1))
            return value
        }
        if let i = items.firstIndex(where: { $0.hasPrefix(name + "=") }) {
            let value = String(items[i].dropFirst(name.count + 1))
            items.remove(at: i)
            return value
        }
        return nil
    }

    /// An option parsed by `parse`; a value it rejects is a usage error naming `expected`.
    mutating func option<T>(_ name: String, expected: String, _ parse: (String) -> T?) throws(UsageError) -> T? {
        guard let raw = try option(name) else { return nil }
        guard let value = parse(raw) else { throw UsageError("option \(name): expected \(expected), got '\(raw)'") }
        return value
    }

    /// An integer option within `range`.
    mutating func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(UsageError) -> Int? {
        try option(name, expected: "an integer in \(range.lowerBound)...\(range.upperBound)") { s in
            Int(s).flatMap { range.contains($0) ? $0 : nil }
        }
    }

    /// A floating-point option within `range`.
    mutating func double(_ name: String, in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude) throws(UsageError) -> Double? {
        try option(name, expected: "a number in \(range.lowerBound)...\(range.upperBound)") { s in
            Double(s).flatMap { $0.isFinite && range.contains($0) ? $0 : nil }
        }
    }

    /// A `WxH` size option (both positive).
    mutating func size(_ name: String) throws(UsageError) -> (width: Int, height: Int)? {
        try option(name, expected: "WIDTHxHEIGHT, e.g. 224x224") { s in
            let parts = s.lowercased().split(separator: "x")
            guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0, w <= 16384, h <= 16384 else { return nil }
            return (w, h)
        }
    }

    /// Removes and returns the next positional argument, or nil when none is left.
    mutating func nextPositional() throws(UsageError) -> String? {
        guard let first = items.first else { return nil }
        if first.hasPrefix("--"), first.count > 2 { throw UsageError("unknown option \(first)") }
        items.removeFirst()
        return first
    }

    /// Removes and returns a required positional argument described by `what`.
    mutating func positional(_ what: String) throws(UsageError) -> String {
        guard let value = try nextPositional() else { throw UsageError("missing \(what)") }
        return value
    }

    /// Rejects anything not consumed.
    func finish() throws(UsageError) {
        guard let first = items.first else { return }
        if first.hasPrefix("-") && first.count > 1 { throw UsageError("unknown option \(first)") }
        throw UsageError("unexpected argument '\(first)'")
    }
}
