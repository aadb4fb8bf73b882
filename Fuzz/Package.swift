// swift-tools-version: 6.2
// Coverage-guided fuzz targets (libFuzzer) for the code that reads untrusted bytes.
// Kept out of the main build: build and run with `scripts/fuzz` (see README.md here).
import PackageDescription

// Every target is an executable whose `LLVMFuzzerTestOneInput` libFuzzer calls with each input.
// `-parse-as-library`: the sources have no top-level code; the entry point is `<Target>_main`
// (see FuzzSupport). lld (shipped with the toolchain) links the sanitizer runtimes without the
// thousands of "Cannot export local symbol" warnings ld.gold prints.
let fuzzSwiftSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]
let fuzzLinkerSettings: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld"])]

func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport"] + dependencies,
        swiftSettings: fuzzSwiftSettings,
        linkerSettings: fuzzLinkerSettings
    )
}

let package = Package(
    name: "TaskMasterFuzz",
    dependencies: [
        .package(name: "TaskMaster", path: "..")
    ],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver. No dependencies.
        .target(name: "CLibFuzzer"),
        // The entry point shared by all targets and a reader for control bytes. No dependencies.
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"]),
        // TaskWire (NIOCore + swift-crypto) only where it is needed; the Pickle and ManagerWire
        // targets pull in BigInt and nothing else.
        fuzzTarget("FuzzFrameDecoder", [.product(name: "TaskWire", package: "TaskMaster")]),
        fuzzTarget("FuzzMessageCodec", [.product(name: "TaskWire", package: "TaskMaster")]),
        fuzzTarget("FuzzHandshake", [.product(name: "TaskWire", package: "TaskMaster")]),
        fuzzTarget("FuzzPickle", [.product(name: "Pickle", package: "TaskMaster")]),
        fuzzTarget(
            "FuzzManagerWire",
            [
                .product(name: "ManagerWire", package: "TaskMaster"),
                .product(name: "Pickle", package: "TaskMaster"),
            ]
        ),
    ]
)
