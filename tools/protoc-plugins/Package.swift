// swift-tools-version:6.1
//
// Pinned protoc plugins for rlhfd's code generation.
//
// This package has no code of its own: it only pins swift-protobuf and grpc-swift-protobuf to
// exact versions so that `scripts/generate-protos.sh` can build their protoc plugin executables
// (`protoc-gen-swift`, `protoc-gen-grpc-swift-2`) reproducibly:
//
//     swift build -c release --package-path tools/protoc-plugins --scratch-path .build-protoc \
//         --product protoc-gen-swift
//
// Their dependencies the plugins build with are pinned here too (exact versions; no
// Package.resolved is committed, as everywhere in this repository).
// The versions here must match the runtime libraries the `API` target links against
// (see the root Package.swift), or the generated code may not compile.
import PackageDescription

let package = Package(
  name: "rlhfd-protoc-plugins",
  dependencies: [
    // Provides the `protoc-gen-swift` executable product (message code).
    .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
    // Provides the `protoc-gen-grpc-swift-2` executable product (service code for GRPCCore).
    .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
    // Transitive, pinned for reproducibility.
    .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "2.4.3"),
    .package(url: "https://github.com/apple/swift-collections.git", exact: "1.6.0"),
  ],
  targets: []
)
