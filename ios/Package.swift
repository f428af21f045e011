// swift-tools-version:5.9
// t2ue for iOS: the Swift façade (Sources/T2ue) over the UniFFI glue, the Rust library as an
// XCFramework and ONNX Runtime's official static XCFramework. Run ./build-xcframework.sh first: it
// makes build/T2ueFFI.xcframework, build/onnxruntime.xcframework, Sources/T2ue/Generated/t2ue.swift
// and the test resources (none of them committed). See README.md.
import PackageDescription

let package = Package(
    name: "T2ue",
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "T2ue", targets: ["T2ue"]),
    ],
    targets: [
        // libt2ue_uniffi.a (device: arm64; simulator: arm64 + x86_64) + t2ueFFI.h + module.modulemap.
        .binaryTarget(name: "T2ueFFI", path: "build/T2ueFFI.xcframework"),
        // ONNX Runtime 1.31.1, static, from the onnxruntime-c pod archive (see README.md).
        .binaryTarget(name: "onnxruntime", path: "build/onnxruntime.xcframework"),
        // Keeps OrtGetApiBase linked into the app and tells the engine which image holds it.
        .target(
            name: "T2ueRuntimeAnchor",
            dependencies: ["onnxruntime"],
            path: "Sources/T2ueRuntimeAnchor"
        ),
        .target(
            name: "T2ue",
            dependencies: ["T2ueFFI", "T2ueRuntimeAnchor"],
            path: "Sources/T2ue",
            linkerSettings: [
                .linkedLibrary("c++"), // ONNX Runtime is C++
                .linkedFramework("CoreML"), // the pod's build has the CoreML execution provider
                .linkedFramework("Foundation"),
                .linkedFramework("Security"),
            ]
        ),
        .testTarget(
            name: "T2ueTests",
            dependencies: ["T2ue"],
            path: "Tests/T2ueTests",
            resources: [.copy("Resources")] // tiny bundle + a photo, copied by build-xcframework.sh
        ),
    ]
)
