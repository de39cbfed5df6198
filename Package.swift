// swift-tools-version:6.0
// kvvision — streaming video understanding with a temporal KV cache.
// No SwiftPM package dependencies: FFmpeg 5.1 and OpenBLAS come from the system
// (tools/dev installs their Debian -dev packages when missing).
import PackageDescription

let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "kvvision",
    products: [
        .executable(name: "kvvision", targets: ["kvvision"]),
        .library(name: "KVVision", targets: ["KVVision"]),
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
            swiftSettings: optimise
        ),
        .executableTarget(
            name: "kvvision",
            dependencies: ["KVVision"],
            path: "Sources/kvvision",
            swiftSettings: optimise
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
