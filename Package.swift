// swift-tools-version:6.0
// lmd: a daemon that loads a GPT-2-family model once and answers next-token questions over JSON-RPC.
//
// Layers (each knows only the ones above it):
//   LMTokenizer, SafeTensors, GGUF, LMKernels — know nothing of GPT-2
//   GPT2                                     — config, checkpoint loading, forward pass
//   LMEngine                                 — tokenizer + model: top-k, generation
//   LMProtocol                               — JSON and JSON-RPC wire types; knows nothing of the engine
//   LMServer                                 — maps wire methods onto the engine; sockets
//   LMClient                                 — a client of the wire protocol
//   ModelHub                                 — model ids: the Hugging Face cache and downloads
//   lmd, lmctl, lmbench                      — thin executables
import PackageDescription

/// The hot kernels are built for the host CPU: Swift's SIMD types only become vector instructions
/// (and `addProduct` a fused multiply-add) when the compiler may target it. They are optimised in debug
/// builds too, so that `swift test` runs them at speed (unoptimised SIMD code is ~100× slower).
let nativeCPU: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "native", "-O"])]

let package = Package(
    name: "lmd",
    products: [
        .executable(name: "lmd", targets: ["lmd"]),
        .executable(name: "lmctl", targets: ["lmctl"]),
        .executable(name: "lmbench", targets: ["lmbench"]),
        .library(name: "LMEngine", targets: ["LMEngine"]),
        .library(name: "LMClient", targets: ["LMClient"]),
    ],
    dependencies: [],
    targets: [
        .target(name: "LMTokenizer"),
        .target(name: "SafeTensors"),
        .target(name: "GGUF"),
        .target(name: "CacheHints"),
        .target(name: "LMKernels", dependencies: ["CacheHints"], swiftSettings: nativeCPU),
        .target(name: "GPT2", dependencies: ["SafeTensors", "GGUF", "LMKernels"]),
        .target(name: "LMEngine", dependencies: ["GPT2", "LMTokenizer", "LMKernels"]),
        .target(name: "LMProtocol"),
        .target(name: "ModelHub"),
        .target(name: "LMServer", dependencies: ["LMProtocol", "LMEngine"]),
        .target(name: "LMClient", dependencies: ["LMProtocol"]),
        .executableTarget(name: "lmd", dependencies: ["LMServer", "ModelHub"]),
        .executableTarget(name: "lmctl", dependencies: ["LMClient", "LMProtocol", "ModelHub"]),
        .executableTarget(name: "lmbench", dependencies: ["LMEngine", "LMClient", "LMProtocol", "LMTokenizer", "SafeTensors", "GPT2", "LMKernels"]),

        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "LMTokenizerTests", dependencies: ["LMTokenizer", "TestSupport"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport"]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "GPT2", "LMTokenizer", "LMEngine", "SafeTensors", "TestSupport"]),
        .testTarget(name: "LMKernelsTests", dependencies: ["LMKernels", "TestSupport"], swiftSettings: nativeCPU),
        .testTarget(name: "GPT2Tests", dependencies: ["GPT2", "SafeTensors", "TestSupport"]),
        .testTarget(name: "LMEngineTests", dependencies: ["LMEngine", "TestSupport"]),
        .testTarget(name: "LMProtocolTests", dependencies: ["LMProtocol", "TestSupport"]),
        .testTarget(name: "ModelHubTests", dependencies: ["ModelHub", "TestSupport"]),
        .testTarget(
            name: "LMServerTests",
            dependencies: ["LMServer", "LMClient", "LMProtocol", "ModelHub", "TestSupport", "lmd", "lmctl"]
        ),
    ],
    swiftLanguageModes: [.v5]
)
