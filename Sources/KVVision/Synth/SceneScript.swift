import Foundation

/// The planned motion of a whole ShapesWorld clip: every object's identity, action segments and
/// pose in every frame, simulated once up front from the scenario and seed.
///
/// State machine per object (`Mode`): `inside` → (moving, reaches an edge, chance `exitRate`)
/// `exiting` (walking or running on outward) → (no pixel can be in the image) `outside`, parked →
/// (at the next segment boundary at least half a second later; segments that start out of sight
/// last the preset's minimum up to one second more) re-enters from a random edge walking or
/// running inward as `entering` →
/// (centre clear of the edges) `inside`. Inside, moving objects bounce off the edges; `entering`
/// objects never decide to leave. Identity never changes.
///
/// Invariants: `poses.count == frames × objects.count` (frame-major); the same config and seed
/// give the same script on every machine (integer PRNG, IEEE double arithmetic, libm sin/cos/atan2).
///
/// Thread-safety: immutable after `init`, `Sendable`.
public struct SceneScript: Sendable {
    public let config: ScenarioConfig
    public let seed: UInt64
    public let frames: Int
    public let objects: [SceneObject]
    /// Frame-major poses: `poses[frame * objects.count + index]`.
    public let poses: [ObjectPose]

    /// The pose of object `index` at 0-based `frame`.
    public func pose(frame: Int, object index: Int) -> ObjectPose { poses[frame * objects.count + index] }

    /// Radius of the disc that holds every pixel of an object of `size` at any rotation
    /// (the square's half-diagonal, the largest of the four shapes, plus one pixel).
    public static func extentRadius(size: Double) -> Double { size * 0.7072 + 1 }

    private enum Mode { case inside, exiting, outside, entering }

    private struct State {
        var x = 0.0, y = 0.0, vx = 0.0, vy = 0.0
        var angle = 0.0, spin = 0.0
        var action = ObjectAction.idle
        var segmentEnd = 0
        var mode = Mode.inside
        var outsideFrames = 0
        var hopPhase = 0.0, hopPeriod = 1.0, hopHeight = 0.0
        var jitterX = 0.0, jitterY = 0.0
        var exitX = 0.0, exitY = 0.0
    }

    /// A hand-made script (tests, tools): `poses` frame-major, `frames × objects.count` of them.
    /// Throws when the config does not validate or the objects and poses do not fit it.
    public init(config: ScenarioConfig, seed: UInt64, objects: [SceneObject], poses: [ObjectPose]) throws(SynthError) {
        try config.validate()
        guard poses.count == config.frames * objects.count else {
            throw .invalidParameter(name: "poses", value: "\(poses.count)", expected: "\(config.frames) frames × \(objects.count) objects")
        }
        guard Set(objects.map(\.id)).count == objects.count, objects.allSatisfy({ $0.id >= 1 }) else {
            throw .invalidParameter(name: "objects", value: "ids \(objects.map(\.id))", expected: "unique positive ids")
        }
        guard objects.allSatisfy({ $0.size.isFinite && $0.size > 0 && $0.size <= 1024 && $0.color.count == 3 && $0.markerColor.count == 3 }),
              poses.allSatisfy({ abs($0.x) <= 1e6 && abs($0.y) <= 1e6 && $0.angle.isFinite }) else {
            throw .invalidParameter(name: "objects", value: "sizes, colours or poses", expected: "sizes in (0, 1024], RGB colours, poses within ±1e6 px")
        }
        self.config = config
        self.seed = seed
        frames = config.frames
        self.objects = objects
        self.poses = poses
    }

    /// Simulates the clip. Throws when the config does not validate.
    public init(config: ScenarioConfig, seed: UInt64) throws(SynthError) {
        try config.validate()
        self.config = config
        self.seed = seed
        frames = config.frames
        var rng = SplitMix64.derived(seed: seed, stream: 1)
        let w = Double(config.width), h = Double(config.height)
        let count = rng.int(in: config.objects)

        // Identities, appearance and start positions.
        var objects: [SceneObject] = []
        var states: [State] = []
        let depths = Self.permutation(count, &rng)
        for i in 0..<count {
            var shape = ShapeClass.allCases[rng.int(in: 0...3)]
            var color = Self.objectColor(&rng)
            var size = rng.uniform(config.objectSize)
            var twin: Int?
            var s = State()
            // Look-alikes come in pairs: an object may copy one earlier object that is not yet paired.
            let unpaired = objects.indices.filter { j in objects[j].lookalikeOf == nil && !objects.contains { $0.lookalikeOf == objects[j].id } }
            if !unpaired.isEmpty, rng.chance(config.lookalikeRate) {
                let j = unpaired[rng.int(in: 0...(unpaired.count - 1))]
                twin = objects[j].id
                shape = objects[j].shapeClass
                color = objects[j].color
                size = min(config.objectSize.upperBound, max(config.objectSize.lowerBound, objects[j].size * rng.uniform(0.9...1.1)))
                let a = rng.uniform(0...(2 * Double.pi)), d = rng.uniform(1.2...2.0) * size
                s.x = states[j].x + d * cos(a)
                s.y = states[j].y + d * sin(a)
            } else {
                s.x = rng.uniform(0...w)
                s.y = rng.uniform(0...h)
            }
            let r = size / 2
            s.x = min(max(s.x, r), w - r)
            s.y = min(max(s.y, r), h - r)
            s.angle = rng.uniform(0...(2 * Double.pi))
            objects.append(SceneObject(id: i + 1, shapeClass: shape, color: color, markerColor: Self.markerColor(for: color),
                                       size: size, depth: depths[i], lookalikeOf: twin, segments: []))
            states.append(s)
        }

        // Step every object through every frame.
        var poses: [ObjectPose] = []
        poses.reserveCapacity(frames * count)
        let dt = 1 / Double(config.fps)
        for t in 0..<frames {
            for i in 0..<count {
                var s = states[i]
                let size = objects[i].size
                if t == s.segmentEnd {
                    Self.startSegment(&s, index: i, frame: t, size: size, states: states, config: config, rng: &rng)
                    let last = min(frames - 1, s.segmentEnd - 1)
                    if let prev = objects[i].segments.last, prev.action == s.action {
                        objects[i].segments[objects[i].segments.count - 1].last = last
                    } else {
                        objects[i].segments.append(.init(first: t, last: last, action: s.action))
                    }
                }
                Self.step(&s, size: size, dt: dt, config: config, rng: &rng)
                if s.mode == .outside { s.outsideFrames += 1 }
                states[i] = s
                var lift = 0.0
                if s.action == .jump { lift = s.hopHeight * 4 * s.hopPhase * (1 - s.hopPhase) }
                poses.append(ObjectPose(x: s.x + s.jitterX, y: s.y + s.jitterY - lift, angle: s.angle))
            }
        }
        self.objects = objects
        self.poses = poses
    }

    /// Begins a new action segment for object `index` at frame `frame`.
    private static func startSegment(_ s: inout State, index: Int, frame: Int, size: Double, states: [State],
                                     config: ScenarioConfig, rng: inout SplitMix64) {
        let w = Double(config.width), h = Double(config.height)
        let length = max(1, Int((rng.uniform(config.segmentSeconds) * Double(config.fps)).rounded()))
        s.segmentEnd = frame + length
        let previous = frame == 0 ? nil : s.action
        s.action = Self.nextAction(config.actionWeights, excluding: previous, &rng)
        s.vx = 0; s.vy = 0; s.spin = 0; s.jitterX = 0; s.jitterY = 0
        var heading = rng.uniform(0...(2 * Double.pi))

        var moving = config.actionWeights
        for a in ObjectAction.allCases where !a.moves { moving[a.rawValue] = 0 }
        let movingAction = { (rng: inout SplitMix64) -> ObjectAction in
            moving.contains(where: { $0 > 0 }) ? Self.nextAction(moving, excluding: previous, &rng) : .walk
        }
        if s.mode == .outside && s.outsideFrames * 2 >= config.fps {
            // Re-enter from a random edge, heading inward.
            s.action = movingAction(&rng)
            let off = extentRadius(size: size) + 1
            let edge = rng.int(in: 0...3)
            let inward = [0.0, Double.pi, Double.pi / 2, -Double.pi / 2][edge]
            switch edge {
            case 0: s.x = -off; s.y = rng.uniform(size / 2...max(size / 2, h - size / 2))
            case 1: s.x = w + off; s.y = rng.uniform(size / 2...max(size / 2, h - size / 2))
            case 2: s.y = -off; s.x = rng.uniform(size / 2...max(size / 2, w - size / 2))
            default: s.y = h + off; s.x = rng.uniform(size / 2...max(size / 2, w - size / 2))
            }
            heading = inward + rng.uniform(-0.7...0.7)
            s.mode = .entering
            s.outsideFrames = 0
        } else if s.mode == .outside {
            // Parked out of sight for one short segment, then back.
            let short = config.segmentSeconds.lowerBound...min(config.segmentSeconds.upperBound, config.segmentSeconds.lowerBound + 1)
            s.segmentEnd = frame + max(1, Int((rng.uniform(short) * Double(config.fps)).rounded()))
            return
        } else if s.mode == .exiting {
            s.action = movingAction(&rng)
            heading = atan2(s.exitY, s.exitX)  // keep leaving
        } else if s.action.moves, rng.chance(config.occlusionRate) {
            // Head for another object that is in view: a crossing.
            let others = states.indices.filter { $0 != index && states[$0].mode == .inside }
            if !others.isEmpty {
                let o = states[others[rng.int(in: 0...(others.count - 1))]]
                if o.x != s.x || o.y != s.y { heading = atan2(o.y - s.y, o.x - s.x) }
            }
        }

        switch s.action {
        case .idle:
            break
        case .walk, .run:
            let speed = rng.uniform(s.action == .walk ? config.walkSpeed : config.runSpeed)
            s.vx = speed * cos(heading)
            s.vy = speed * sin(heading)
        case .jump:
            let speed = rng.uniform(0...(config.walkSpeed.lowerBound / 2))
            s.vx = speed * cos(heading)
            s.vy = speed * sin(heading)
            s.hopPhase = 0
            s.hopPeriod = rng.uniform(config.jumpPeriod)
            s.hopHeight = rng.uniform(config.jumpHeight)
        case .spin:
            let degrees = rng.uniform(config.spinSpeed) * (rng.chance(0.5) ? 1 : -1)
            s.spin = degrees * Double.pi / 180
        }
    }

    /// Advances one object by one frame: motion, edges, exits, hops, spin, jitter.
    private static func step(_ s: inout State, size: Double, dt: Double, config: ScenarioConfig, rng: inout SplitMix64) {
        let w = Double(config.width), h = Double(config.height)
        if s.mode == .outside { return }
        if s.action.moves && s.mode != .exiting {
            // Slow heading wander, at most ±2° per frame.
            let turn = rng.uniform(-0.035...0.035)
            let c = cos(turn), sn = sin(turn)
            (s.vx, s.vy) = (s.vx * c - s.vy * sn, s.vx * sn + s.vy * c)
        }
        s.x += s.vx * dt
        s.y += s.vy * dt
        s.angle += s.spin * dt
        if s.angle > 2 * Double.pi { s.angle -= 2 * Double.pi } else if s.angle < 0 { s.angle += 2 * Double.pi }
        if s.action == .jump {
            s.hopPhase += dt / s.hopPeriod
            if s.hopPhase >= 1 { s.hopPhase -= 1 }
        }
        if s.action == .idle {
            s.jitterX = 0.6 * s.jitterX + rng.uniform(-0.4...0.4)
            s.jitterY = 0.6 * s.jitterY + rng.uniform(-0.4...0.4)
        }

        let r = size / 2
        switch s.mode {
        case .inside, .entering:
            if s.mode == .entering, s.x >= r, s.x <= w - r, s.y >= r, s.y <= h - r { s.mode = .inside }
            let hitX = (s.x < r && s.vx < 0) || (s.x > w - r && s.vx > 0)
            let hitY = (s.y < r && s.vy < 0) || (s.y > h - r && s.vy > 0)
            guard hitX || hitY else { return }
            if s.mode == .inside, s.action.moves, rng.chance(config.exitRate) {
                s.mode = .exiting
                s.exitX = s.vx; s.exitY = s.vy
            } else {
                if hitX { s.vx = -s.vx }
                if hitY { s.vy = -s.vy }
            }
        case .exiting:
            let e = extentRadius(size: size)  // exiting objects always walk or run, so no hop lifts them
            if s.x < -e || s.x > w + e || s.y < -e || s.y > h + e {
                s.mode = .outside
                s.outsideFrames = 0
                s.vx = 0; s.vy = 0
            } else if s.vx == 0 && s.vy == 0 && s.action.moves {
                s.vx = s.exitX; s.vy = s.exitY
            }
        case .outside:
            break
        }
    }

    /// An action drawn by `weights`, different from `previous` whenever another action has weight,
    /// so consecutive segments change.
    private static func nextAction(_ weights: [Double], excluding previous: ObjectAction?, _ rng: inout SplitMix64) -> ObjectAction {
        var w = weights
        if let p = previous, w.enumerated().contains(where: { $0.offset != p.rawValue && $0.element > 0 }) { w[p.rawValue] = 0 }
        return ObjectAction.allCases[rng.weighted(w)]
    }

    /// A random permutation of 0..<n (Fisher–Yates).
    private static func permutation(_ n: Int, _ rng: inout SplitMix64) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, rng.int(in: 0...i)) }
        }
        return p
    }

    /// A saturated, bright random colour (HSV: any hue, saturation 0.5–1, value 0.6–1).
    private static func objectColor(_ rng: inout SplitMix64) -> [UInt8] {
        let hue = rng.uniform(0...6), sat = rng.uniform(0.5...1), val = rng.uniform(0.6...1)
        let sector = min(5, Int(hue)), f = hue - Double(sector)
        let p = val * (1 - sat), q = val * (1 - sat * f), u = val * (1 - sat * (1 - f))
        let rgb: (Double, Double, Double)
        switch sector {
        case 0: rgb = (val, u, p)
        case 1: rgb = (q, val, p)
        case 2: rgb = (p, val, u)
        case 3: rgb = (p, q, val)
        case 4: rgb = (u, p, val)
        default: rgb = (val, p, q)
        }
        return [rgb.0, rgb.1, rgb.2].map { UInt8(min(255, max(0, ($0 * 255).rounded()))) }
    }

    /// Black on light bodies, white on dark ones (Rec. 601 luma).
    public static func markerColor(for color: [UInt8]) -> [UInt8] {
        let luma = 0.299 * Double(color[0]) + 0.587 * Double(color[1]) + 0.114 * Double(color[2])
        return luma > 128 ? [20, 20, 20] : [240, 240, 240]
    }
}
