/// Why a pickle could not be read or written.
///
/// A malformed or hostile pickle is always this error, never a crash.
public struct PickleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The input ended in the middle of an opcode or before STOP.
        public static let truncated = Code("truncated")
        /// An opcode this reader does not know.
        public static let unknownOpcode = Code("unknownOpcode")
        /// An opcode that needs code or out-of-band data to run (persistent ids, buffers).
        public static let forbiddenOpcode = Code("forbiddenOpcode")
        /// The opcodes don't form a valid program: stack underflow, missing MARK, wrong types.
        public static let invalidStructure = Code("invalidStructure")
        /// A GET names a memo slot that was never filled.
        public static let badMemoReference = Code("badMemoReference")
        /// A value inside an opcode is malformed (bad UTF-8, a bad text number, …).
        public static let invalidValue = Code("invalidValue")
        /// A configured limit (size, depth, node count, memo size, integer size) was exceeded.
        public static let limitExceeded = Code("limitExceeded")
        /// Bytes follow the STOP opcode.
        public static let trailingData = Code("trailingData")

        public var description: String { name }
    }

    public var code: Code
    /// Byte offset of the opcode where the problem was found, if any.
    public var offset: Int?
    /// The opcode byte concerned, if any.
    public var opcode: UInt8?
    public var message: String

    public init(_ code: Code, _ message: String, offset: Int? = nil, opcode: UInt8? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.opcode = opcode
    }

    public var description: String {
        var text = "invalid pickle: \(message)"
        if let offset {
            text += " (at byte \(offset)"
            if let opcode { text += ", opcode 0x\(String(opcode, radix: 16))" }
            text += ")"
        }
        return text
    }
}
