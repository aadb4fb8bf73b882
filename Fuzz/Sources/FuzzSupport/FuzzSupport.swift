import CLibFuzzer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The type of `LLVMFuzzerTestOneInput`: one input in, 0 out (libFuzzer reserves other values).
public typealias FuzzTestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer's driver on `testOneInput`, with libFuzzer's command line in `argv`.
///
/// Why the targets have an entry point of their own: on Linux, SwiftPM (tools version 5.5 and
/// later) links every executable with `--defsym main=<module>_main`, so that test targets can
/// link an executable's code. `-sanitize=fuzzer` links libFuzzer's `main`, but the `--defsym`
/// overrides it, and `<module>_main` has to exist. Each target therefore defines
/// `@_cdecl("<module>_main")` and calls this, which runs the same driver as libFuzzer's `main`.
/// Built without SwiftPM (`swiftc -sanitize=fuzzer -parse-as-library`), libFuzzer's own `main`
/// runs instead and `<module>_main` is simply unused.
public func runLibFuzzer(
    argc: CInt,
    argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ testOneInput: FuzzTestOneInput
) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, testOneInput)
}

/// The bytes libFuzzer passed to `LLVMFuzzerTestOneInput`, copied.
public func inputBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Takes control values (a role, a limit, a split point) off the front of an input.
///
/// Reads past the end give zeros, so every input, even an empty one, is usable.
public struct FuzzInput {
    /// What has not been taken yet.
    public private(set) var rest: ArraySlice<UInt8>

    public init(_ bytes: [UInt8]) {
        self.rest = bytes[...]
    }

    /// The next byte, or 0.
    public mutating func byte() -> UInt8 {
        rest.popFirst() ?? 0
    }

    /// The next two bytes, big-endian.
    public mutating func uint16() -> UInt16 {
        let high = UInt16(byte())
        return high << 8 | UInt16(byte())
    }

    /// The next `count` bytes, padded with zeros.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = Array(rest.prefix(count))
        rest = rest.dropFirst(count)
        out += repeatElement(0, count: count - out.count)
        return out
    }
}

/// Whether the environment variable `FUZZ_TRACE` is set. The targets then print what each input
/// decoded to: run a target on files (`FuzzPickle Corpus/FuzzPickle/*`) to see what seeds reach.
public let isTracing = getenv("FUZZ_TRACE") != nil

/// Prints `message` when ``isTracing``.
public func trace(_ message: @autoclosure () -> String) {
    if isTracing { print(message()) }
}

/// Stops the process (a crash libFuzzer reports, with the input) when a property the target
/// checks does not hold. `fatalError`, unlike `precondition`, keeps its message in release builds.
public func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz property violated: \(message())") }
}

/// The first `limit` bytes as hex, for messages.
public func hex(_ bytes: some Collection<UInt8>, limit: Int = 64) -> String {
    let digits = "0123456789abcdef".utf8.map { Character(UnicodeScalar($0)) }
    var text = ""
    for byte in bytes.prefix(limit) {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return bytes.count > limit ? text + "…(\(bytes.count) bytes)" : text
}
