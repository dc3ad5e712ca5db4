// swift-tools-version:6.1
// rlhfd: a gRPC daemon that serves and continuously aligns a LLaVA-style policy.
// The target graph is the architecture (see README "Architecture"): C is fenced into C* targets,
// each owned by one Swift module; generic layers know nothing of what sits above them.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
  .enableUpcomingFeature("MemberImportVisibility"),
]

let grpcCore = Target.Dependency.product(name: "GRPCCore", package: "grpc-swift-2")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")

let package = Package(
  name: "rlhfd",
  products: [
    .executable(name: "rlhfd", targets: ["rlhfd"])
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
  ],
  targets: [
    // MARK: - C fences

    // The gRPC C core from Debian's libgrpc-dev (1.51). Only GRPCBridge imports it.
    .systemLibrary(name: "CGRPC", path: "Sources/CGRPC"),
    // C memory whose lifetime is tied to completion events, and the slice macros.
    .target(name: "CGRPCShim", dependencies: ["CGRPC"], path: "Sources/CGRPCShim"),

    // MARK: - Generic layers

    // A GRPCCore.ServerTransport over the C core. Knows no service and no model.
    .target(
      name: "GRPCBridge",
      dependencies: ["CGRPC", "CGRPCShim", grpcCore],
      swiftSettings: swiftSettings
    ),

    // The BLAS from Debian's libopenblas-dev (pthread build). Only Engine imports it.
    .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
    // Hand-written AVX-512 kernels (GEMV), chosen at run time; the functions carry their own
    // target attributes so the rest of the build stays x86-64-v3. Also CPUID / XGETBV, for the
    // choice of OpenBLAS's kernel set (docs/kernels.md). Only Engine imports it.
    .target(name: "CKernels", path: "Sources/CKernels"),
    // Tensors and kernels (forward/backward pairs, naive references beside fast paths).
    // No Foundation networking, no Swift concurrency.
    //
    // On x86-64 the Engine alone is compiled for x86-64-v3 (AVX2, FMA, F16C; no AVX-512):
    // SwiftPM's default is baseline x86-64 (SSE2), which halves the SIMD8 GEMV and conversion
    // loops and turns `addingProduct` into libm calls. So the binary needs a Haswell / Zen 1 or
    // later CPU (the documented target is Zen 3). swiftc 6.3 rejects `-target-cpu x86-64-v3`
    // but takes the clang importer's `-march`, which sets the Swift code's target features too.
    .target(
      name: "Engine",
      dependencies: ["CBLAS", "CKernels"],
      exclude: ["README.md"],
      swiftSettings: swiftSettings
        + {
          #if arch(x86_64)
            return [.unsafeFlags(["-Xcc", "-march=x86-64-v3"], .when(platforms: [.linux]))]
          #else
            return []
          #endif
        }()
    ),

    // Checkpoint file formats: safetensors (validated, mmap), sharded indexes, llava-hf configs,
    // PEFT LoRA adapters. Knows no model code.
    .target(name: "Checkpoints", swiftSettings: swiftSettings),

    // SentencePiece (Debian's libsentencepiece-dev) behind a C API. Only Tokenizer imports it.
    .target(
      name: "CSentencePiece",
      path: "Sources/CSentencePiece",
      linkerSettings: [.linkedLibrary("sentencepiece"), .linkedLibrary("stdc++")]
    ),
    .target(name: "Tokenizer", dependencies: ["CSentencePiece"], swiftSettings: swiftSettings),

    // PNG and JPEG decoding (libpng, libjpeg-turbo) with limits checked before decoding.
    // Only Imaging imports it.
    .target(
      name: "CImageCodecs",
      path: "Sources/CImageCodecs",
      linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]
    ),
    .target(name: "Imaging", dependencies: ["CImageCodecs"], swiftSettings: swiftSettings),

    // The vision-language model: CLIP vision tower, projector, LLaMA decoder, LM and reward
    // heads, loaded from llava-hf checkpoints onto the Engine.
    .target(
      name: "Models",
      dependencies: ["Engine", "Checkpoints"],
      exclude: ["README.md"],
      swiftSettings: swiftSettings
    ),

    // Continuous batching: admission, priorities, deadlines, paged KV block accounting with
    // prefix sharing, preemption, metrics. Knows models only through the StepExecutor protocol.
    .target(
      name: "Scheduler",
      dependencies: [.product(name: "Metrics", package: "swift-metrics")],
      swiftSettings: swiftSettings
    ),

    // The feedback store: feedback, generations, images on SQLite (GRDB) with group commit.
    // Knows nothing of the API or the models.
    .target(
      name: "Store",
      dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
      swiftSettings: swiftSettings
    ),

    // MARK: - Native request types (below Services and Serving)

    // What the services hand to the model runners and get back (generation and score requests,
    // results, events, BackendError, the PolicyBackend / RewardBackend protocols, model info,
    // finished generations for the recorder). No proto types, no model code; imports nothing.
    .target(name: "ServingTypes", swiftSettings: swiftSettings),

    // The native types to the store's records and back (facts, finished generations), in one
    // place for the services, the composition root and the trainer. Store stays independent.
    .target(
      name: "StoreMapping",
      dependencies: ["ServingTypes", "Store"],
      swiftSettings: swiftSettings
    ),

    // MARK: - Public API (generated code only)

    .target(
      name: "API",
      dependencies: [
        grpcCore,
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),

    // MARK: - Services: proto <-> native types, validation, RPCError mapping

    .target(
      name: "Services",
      dependencies: [
        .product(name: "Metrics", package: "swift-metrics"),
        "API", "ServingTypes", "Store", "StoreMapping", grpcCore, logging,
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),

    // MARK: - Serving: the model runners and their batch executors (what the trainer calls)

    .target(
      name: "Serving",
      dependencies: [
        "ServingTypes", "Models", "Engine", "Tokenizer", "Imaging", "Checkpoints", "Scheduler",
      ],
      swiftSettings: swiftSettings
    ),

    // MARK: - Training: the RLHF math and settings (LLaVA-RLHF's PPO and reward-model losses)

    // Settings with the paper's and small-model presets, PPO math (truncation, reward shaping,
    // GAE, whitening, clipped losses with their per-token gradients), reward-model loss,
    // preference pairs, held-out split. Arrays in, arrays out; never imports the API or Daemon.
    .target(
      name: "Training",
      dependencies: ["Engine", "Models", "Checkpoints", "Serving", "ServingTypes"],
      exclude: ["README.md"],
      swiftSettings: swiftSettings
    ),

    // The online trainer: a long-lived Service that reads feedback from the store, rolls out
    // through the policy runner's scheduler, scores with the reward runner, runs Training's
    // reward-model updates and PPO steps on its own thread, publishes versions behind the guard
    // and checkpoints atomically with the feedback it consumed (docs/training.md).
    .target(
      name: "Trainer",
      dependencies: [
        "Training", "Serving", "ServingTypes", "Store", "StoreMapping", "Models", "Engine",
        "Checkpoints", "Tokenizer", logging,
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),

    // Prometheus's /metrics over HTTP on its own listener (knows nothing of rlhfd).
    .target(
      name: "Observability",
      dependencies: [.product(name: "Prometheus", package: "swift-prometheus")],
      swiftSettings: swiftSettings
    ),

    // MARK: - Composition root and executable

    .target(
      name: "Daemon",
      dependencies: [
        "Services", "Serving", "ServingTypes", "GRPCBridge", "API", grpcCore, logging,
        "Models", "Engine", "Tokenizer", "Imaging", "Checkpoints", "Scheduler", "Store",
        "StoreMapping", "Observability", "Training", "Trainer",
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "rlhfd",
      dependencies: [
        "Daemon", "Serving", "Engine", logging,
        // `rlhfd import` / `export`: the store file, through the RPCs' validation.
        "Services", "API", "Store", "Imaging", grpcCore,
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: swiftSettings
    ),

    // MARK: - Benchmarks (executables, never timed tests)

    // What the benchmark executables share: the machine's limits and their drift (the
    // RELIABLE / UNRELIABLE rule), the CPU, the interleaved rounds' samples, clock and formats.
    .target(
      name: "BenchSupport",
      dependencies: ["Engine"],
      path: "Benchmarks/BenchSupport",
      swiftSettings: swiftSettings
    ),

    .executableTarget(
      name: "EngineBench",
      dependencies: ["BenchSupport", "Models", "Engine", "Checkpoints"],
      path: "Benchmarks/EngineBench",
      swiftSettings: swiftSettings
    ),

    .executableTarget(
      name: "TrainingBench",
      dependencies: ["BenchSupport", "Training", "Serving", "Models", "Engine", "Checkpoints"],
      path: "Benchmarks/TrainingBench",
      swiftSettings: swiftSettings
    ),

    .executableTarget(
      name: "StoreBench",
      dependencies: ["Store", .product(name: "GRDB", package: "GRDB.swift")],
      path: "Benchmarks/StoreBench",
      swiftSettings: swiftSettings
    ),

    // MARK: - Tests

    .testTarget(
      name: "ServicesTests",
      dependencies: [
        "Services", "ServingTypes", "StoreMapping", "Store", "API", grpcCore, logging,
        .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(name: "EngineTests", dependencies: ["Engine"], swiftSettings: swiftSettings),
    .testTarget(
      name: "TrainingTests",
      dependencies: ["Training", "Engine", "Models", "Checkpoints", "Serving", "ServingTypes"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "TrainerTests",
      dependencies: ["Trainer", "Training", "Engine", "Store", "Serving", "ServingTypes"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "StoreTests",
      dependencies: ["Store", .product(name: "GRDB", package: "GRDB.swift")],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ObservabilityTests",
      dependencies: ["Observability", .product(name: "Prometheus", package: "swift-prometheus")],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ModelsTests",
      dependencies: ["Models", "Engine", "Checkpoints"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "SchedulerTests",
      dependencies: [
        "Scheduler",
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "MetricsTestKit", package: "swift-metrics"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "CheckpointsTests",
      dependencies: ["Checkpoints"],
      resources: [.copy("Inputs")],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "TokenizerTests",
      dependencies: ["Tokenizer"],
      resources: [.copy("Inputs")],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ImagingTests",
      dependencies: ["Imaging"],
      resources: [.copy("Inputs")],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "GRPCBridgeTests",
      dependencies: ["GRPCBridge", grpcCore],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "DaemonTests",
      dependencies: [
        "Daemon", "Serving", "ServingTypes", "GRPCBridge", "Services", "Imaging", "Tokenizer",
        "Models", "Scheduler", "Engine", "Checkpoints", "Store", "Trainer", "Training",
      ],
      swiftSettings: swiftSettings
    ),
  ],
  cxxLanguageStandard: .cxx17
)

// MARK: - libFuzzer targets (scripts/fuzz.sh, docs/reliability.md)
// They export `LLVMFuzzerTestOneInput` and have no `main`: they link only under
// `swift build --sanitize=fuzzer`, so they are in the manifest only when RLHFD_FUZZ=1 (the
// script sets it and builds into its own scratch path, .build-fuzz).
if Context.environment["RLHFD_FUZZ"] == "1" {
  let fuzzTargets: [(String, [Target.Dependency])] = [
    ("FuzzSafeTensors", ["Checkpoints"]),
    ("FuzzImaging", ["Imaging"]),
    ("FuzzConfig", ["Daemon"]),
    (
      "FuzzValidation",
      ["Services", "API", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
    ),
  ]
  for (name, dependencies) in fuzzTargets {
    package.targets.append(
      .executableTarget(
        name: name,
        dependencies: dependencies,
        path: "Fuzz/\(name)",
        swiftSettings: swiftSettings
      )
    )
    package.products.append(.executable(name: name, targets: [name]))
  }
}
