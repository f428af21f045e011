// swift-tools-version:5.9
// Swift tests of the UniFFI bindings. Not runnable on the Linux CI of this project (no Swift
// toolchain can be installed there); run `tests/swift/run.sh` on a machine with Swift 5.9+
// (macOS with Xcode, or Linux with swift.org's toolchain). run.sh builds libt2ue_uniffi, generates
// the bindings into Generated/ (not committed) and runs `swift test`.
import PackageDescription

let libDir = Context.environment["T2UE_LIB_DIR"] ?? "../../target/debug"

let package = Package(
    name: "T2ueSwiftTests",
    targets: [
        // The C side of the generated bindings: t2ueFFI.h + module.modulemap.
        .systemLibrary(name: "t2ueFFI", path: "Generated/t2ueFFI"),
        // The generated t2ue.swift, linked against libt2ue_uniffi.
        .target(
            name: "t2ue",
            dependencies: ["t2ueFFI"],
            path: "Generated/t2ue",
            linkerSettings: [
                .linkedLibrary("t2ue_uniffi"),
                .unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir]),
            ]
        ),
        .testTarget(name: "T2ueTests", dependencies: ["t2ue"], path: "Tests/T2ueTests"),
    ]
)
