import Foundation
import TestSupport
import Testing

@testable import Pickle

/// Reads `bytes`, returning the error code instead of throwing (nil when it reads).
func errorCode(of bytes: [UInt8], limits: PickleLimits = PickleLimits()) -> PickleError.Code? {
    do {
        _ = try PickleReader.read(bytes, limits: limits)
        return nil
    } catch {
        return error.code
    }
}

/// Little-endian bytes of `value`, `width` bytes long.
func le(_ value: UInt64, _ width: Int) -> [UInt8] {
    (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}

/// A protocol 0 text argument: the ASCII text and its newline.
func line(_ text: String) -> [UInt8] { Array(text.utf8) + [0x0A] }

/// `SHORT_BINUNICODE text`.
func shortString(_ text: String) -> [UInt8] { [0x8C, UInt8(text.utf8.count)] + Array(text.utf8) }

/// A deterministic generator, so that fuzz-style loops repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The wire captures of real Python managers sessions, kept in `Tests/Fixtures/python-managers`.
enum CapturedVectors {
    struct Frame: Sendable {
        let file: String
        let index: Int
        let note: String
        /// The pickle, without the frame's length header.
        let pickle: [UInt8]
    }

    static let directory: URL? = {
        let candidate = Fixtures.url("python-managers")
        return FileManager.default.fileExists(atPath: candidate.path) ? candidate : nil
    }()

    /// Every pickle frame of every capture that has messages.
    static func pickleFrames() throws -> [Frame] {
        guard let directory else {
            throw PickleTestFailure("Tests/Fixtures/python-managers is missing")
        }
        var frames: [Frame] = []
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
            .sorted()
        for file in files {
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            guard let session = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                let messages = session["messages"] as? [[String: Any]]
            else { continue }
            for (index, message) in messages.enumerated() where message["kind"] as? String == "pickle" {
                guard let hex = message["hex"] as? String, let bytes = [UInt8](hexString: hex) else {
                    throw PickleTestFailure("\(file) message \(index) has no hex")
                }
                // 4-byte big-endian length, or -1 and an 8-byte length.
                let headerSize = bytes.prefix(4) == [0xFF, 0xFF, 0xFF, 0xFF] ? 12 : 4
                frames.append(
                    Frame(
                        file: file,
                        index: index,
                        note: message["note"] as? String ?? "",
                        pickle: Array(bytes.dropFirst(headerSize))
                    )
                )
            }
        }
        return frames
    }
}

extension PickleGraph {
    /// `module.name` of a global node, for compact expectations.
    func globalText(of id: PickleNode.ID) -> String? {
        globalName(of: id).map { "\($0.module).\($0.name)" }
    }
}

struct PickleTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element == UInt8 {
    /// Bytes from lower- or upper-case hex; nil if it isn't hex.
    init?(hexString: String) {
        let digits = Array(hexString.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    /// Lower-case hex.
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Where two byte arrays first differ, for failure messages.
    func firstDifference(from other: [UInt8]) -> Int? {
        if let index = zip(self, other).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            return index
        }
        return count == other.count ? nil : Swift.min(count, other.count)
    }
}
