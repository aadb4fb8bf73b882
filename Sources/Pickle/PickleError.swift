/// Why a pickle could not be read or written.
///
/// A malformed or hostile pickle is always this error, never a crash. The `code` says what
/// kind of failure it is, `offset` and `opcode` where it happened, `message` what went wrong.
public struct PickleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. Extensible: new kinds are new static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The input ended in the middle of an opcode or before STOP, or announced a length
        /// the input does not hold.
        public static let truncated = Code("truncated")
        /// A byte that is no opcode of protocols 0 to 5.
        public static let unknownOpcode = Code("unknownOpcode")
        /// An opcode that needs code or out-of-band data to run (persistent ids, buffers).
        public static let forbiddenOpcode = Code("forbiddenOpcode")
        /// The opcodes don't form a valid program (stack underflow, a missing MARK, an opcode
        /// applied to the wrong kind of value), or a graph no pickle can express.
        public static let invalidStructure = Code("invalidStructure")
        /// A GET names a memo slot that was never filled.
        public static let badMemoReference = Code("badMemoReference")
        /// A value inside an opcode is malformed (a bad text number, non-ASCII Python 2 str, …).
        public static let invalidValue = Code("invalidValue")
        /// A ``PickleLimits`` bound (size, depth, node count, memo size, integer size) was exceeded.
        public static let limitExceeded = Code("limitExceeded")
        /// Bytes follow the STOP opcode.
        public static let trailingData = Code("trailingData")

        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// Byte offset of the opcode where the problem was found, when reading.
    public var offset: Int?
    /// The opcode byte concerned, when reading.
    public var opcode: UInt8?
    /// What went wrong.
    public var message: String

    /// An error of kind `code`.
    public init(_ code: Code, _ message: String, offset: Int? = nil, opcode: UInt8? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.opcode = opcode
    }

    /// The `pickletools` name of ``opcode`` (e.g. `BININT1`), if it is one.
    public var opcodeName: String? { opcode.flatMap { Opcode.names[$0] } }

    public var description: String {
        var text = "invalid pickle (\(code)): \(message)"
        if let offset {
            text += " (at byte \(offset)"
            if let opcode {
                text += ", opcode " + (opcodeName.map { "\($0) " } ?? "") + "0x" + String(opcode, radix: 16)
            }
            text += ")"
        }
        return text
    }
}
