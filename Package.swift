// swift-tools-version:6.0
// kvvision — streaming video understanding with a temporal KV cache.
// No SwiftPM package dependencies: FFmpeg 5.1 and OpenBLAS come from the system
// (tools/dev installs their Debian -dev packages when missing).
import PackageDescription

// Release builds are checked (-O keeps bounds and overflow checks): everything that parses or
// indexes input stays a clean failure, never memory corruption. Measured cost: docs/benchmarks.md.
let checked: [SwiftSetting] = [.unsafeFlags(["-O", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "kvvision",
    products: [
        .executable(name: "kvvision", targets: ["kvvision"]),
        .library(name: "KVVision", targets: ["KVVision"]),
        // The fuzzing campaign (docs/reliability.md); not installed, not on the user's path.
        .executable(name: "kvvision-fuzz", targets: ["kvvision-fuzz"]),
    ],
    targets: [
        .systemLibrary(
            name: "CFFmpeg",
            path: "Sources/CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]
        ),
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "CKernels",
            path: "Sources/CKernels",
            cSettings: [.unsafeFlags(["-O2"])]
        ),
        .target(
            name: "KVVision",
            dependencies: ["CFFmpeg", "COpenBLAS", "CKernels"],
            path: "Sources/KVVision",
            swiftSettings: checked
        ),
        .executableTarget(
            name: "kvvision",
            dependencies: ["KVVision"],
            path: "Sources/kvvision",
            swiftSettings: checked
        ),
        .executableTarget(
            name: "kvvision-fuzz",
            dependencies: ["KVVision"],
            path: "Sources/kvvision-fuzz",
            swiftSettings: checked
        ),
        .testTarget(
            name: "KVVisionTests",
            dependencies: ["KVVision"],
            path: "Tests/KVVisionTests",
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
