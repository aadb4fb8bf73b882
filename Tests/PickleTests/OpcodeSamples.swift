import BigInt

@testable import Pickle

/// Hand-written pickles, at least one for every opcode the reader accepts, with what each
/// must read as. Python can load every one of them (after registering the extension codes),
/// which the Python round-trip tests check too.
struct OpcodeSample: Sendable, CustomStringConvertible {
    /// The opcode this sample is about.
    let opcode: UInt8
    let name: String
    let bytes: [UInt8]
    /// The value it must read as, when it is a plain value.
    let expected: PickleValue?
    /// Else the Python type name of the root.
    let typeName: String?

    init(_ opcode: UInt8, _ name: String, _ bytes: [UInt8], _ expected: PickleValue) {
        self.opcode = opcode
        self.name = name
        self.bytes = bytes
        self.expected = expected
        self.typeName = nil
    }

    init(_ opcode: UInt8, _ name: String, _ bytes: [UInt8], typeName: String) {
        self.opcode = opcode
        self.name = name
        self.bytes = bytes
        self.expected = nil
        self.typeName = typeName
    }

    var description: String { "\(Opcode.names[opcode] ?? "?") (\(name))" }

    /// `copyreg.add_extension` calls that make the EXT samples loadable in Python.
    static let pythonExtensions = """
        import copyreg
        copyreg.add_extension('collections', 'OrderedDict', 7)
        copyreg.add_extension('collections', 'deque', 0x1234)
        copyreg.add_extension('fractions', 'Fraction', 0x123456)
        """

    static let all: [OpcodeSample] = {
        let stop: UInt8 = 0x2E
        let n: UInt8 = 0x4E
        func k(_ value: UInt8) -> [UInt8] { [0x4B, value] }
        let big = BigInt(1) << 2048
        var long4 = le(257, 4)
        long4 += [UInt8](repeating: 0, count: 256) + [1]
        return [
            // Control
            OpcodeSample(0x4E, "NONE alone", [n, stop], .none),
            OpcodeSample(0x2E, "STOP", [0x80, 2, n, stop], .none),
            OpcodeSample(0x80, "PROTO 5", [0x80, 5, 0x88, stop], true),
            OpcodeSample(0x95, "FRAME around the body", [0x80, 4, 0x95] + le(3, 8) + k(7) + [stop], 7),
            OpcodeSample(
                0x28,
                "MARK and TUPLE",
                [0x28] + k(1) + k(2) + k(3) + k(4) + [0x74, stop],
                .tuple([1, 2, 3, 4])
            ),
            OpcodeSample(0x30, "POP", k(1) + k(2) + [0x30, stop], 1),
            OpcodeSample(0x30, "POP of a bare MARK", k(1) + [0x28, 0x30, stop], 1),
            OpcodeSample(0x31, "POP_MARK", k(9) + [0x28] + k(1) + k(2) + [0x31, stop], 9),
            OpcodeSample(0x32, "DUP", k(5) + [0x32, 0x86, stop], .tuple([5, 5])),
            // Memo
            OpcodeSample(
                0x94,
                "MEMOIZE and BINGET",
                [0x80, 4] + shortString("ab") + [0x94, 0x68, 0, 0x86, stop],
                .tuple(["ab", "ab"])
            ),
            OpcodeSample(0x71, "BINPUT", k(5) + [0x71, 3, 0x30, 0x68, 3, stop], 5),
            OpcodeSample(
                0x72,
                "LONG_BINPUT and LONG_BINGET",
                k(6) + [0x72] + le(70000, 4) + [0x30, 0x6A] + le(70000, 4) + [stop],
                6
            ),
            OpcodeSample(0x6A, "LONG_BINGET", k(6) + [0x94, 0x30, 0x6A] + le(0, 4) + [stop], 6),
            OpcodeSample(0x70, "PUT and GET", k(5) + [0x70] + line("7") + [0x30, 0x67] + line("7") + [stop], 5),
            OpcodeSample(
                0x67,
                "GET",
                [0x49] + line("11") + [0x70] + line("0") + [0x67] + line("0") + [0x86, stop],
                .tuple([11, 11])
            ),
            OpcodeSample(0x68, "BINGET", [0x5D, 0x71, 0, 0x68, 0, 0x86, stop], .tuple([[], []])),
            // Scalars
            OpcodeSample(0x88, "NEWTRUE", [0x80, 2, 0x88, stop], true),
            OpcodeSample(0x89, "NEWFALSE", [0x80, 2, 0x89, stop], false),
            OpcodeSample(0x4B, "BININT1", k(255) + [stop], 255),
            OpcodeSample(0x4D, "BININT2", [0x4D, 0x2C, 0x01, stop], 300),
            OpcodeSample(0x4A, "BININT", [0x4A, 0xFF, 0xFF, 0xFF, 0xFF, stop], -1),
            OpcodeSample(0x4A, "BININT min", [0x4A, 0, 0, 0, 0x80, stop], .int(Int(Int32.min))),
            OpcodeSample(
                0x8A,
                "LONG1 2**64",
                [0x80, 2, 0x8A, 9] + [UInt8](repeating: 0, count: 8) + [1, stop],
                .integer(BigInt(1) << 64)
            ),
            OpcodeSample(
                0x8A,
                "LONG1 -2**63",
                [0x80, 2, 0x8A, 8] + [UInt8](repeating: 0, count: 7) + [0x80, stop],
                .int(Int.min)
            ),
            OpcodeSample(0x8A, "LONG1 empty is 0", [0x80, 2, 0x8A, 0, stop], 0),
            OpcodeSample(0x8B, "LONG4", [0x80, 2, 0x8B] + long4 + [stop], .integer(big)),
            OpcodeSample(0x49, "INT", [0x49] + line("-42") + [stop], -42),
            OpcodeSample(0x49, "INT 01 is True", [0x49] + line("01") + [stop], true),
            OpcodeSample(0x49, "INT 00 is False", [0x49] + line("00") + [stop], false),
            OpcodeSample(
                0x4C,
                "LONG",
                [0x4C] + line("-123456789012345678901234567890L") + [stop],
                .integer(-BigInt("123456789012345678901234567890"))
            ),
            OpcodeSample(0x46, "FLOAT", [0x46] + line("2.5") + [stop], 2.5),
            OpcodeSample(0x46, "FLOAT inf", [0x46] + line("-inf") + [stop], .float(-.infinity)),
            OpcodeSample(0x47, "BINFLOAT", [0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, stop], 1.5),
            // Text and bytes
            OpcodeSample(0x8C, "SHORT_BINUNICODE", [0x80, 4] + shortString("héllo ✓") + [0x94, stop], "héllo ✓"),
            OpcodeSample(0x58, "BINUNICODE", [0x58] + le(3, 4) + Array("abc".utf8) + [stop], "abc"),
            OpcodeSample(0x8D, "BINUNICODE8", [0x80, 4, 0x8D] + le(2, 8) + Array("hi".utf8) + [stop], "hi"),
            OpcodeSample(0x56, "UNICODE (raw-unicode-escape)", [0x56, 0xE9] + line("\\u263a") + [stop], "é☺"),
            OpcodeSample(0x53, "STRING (Python 2 str)", [0x53] + line("'a\\nb\\x41\\''") + [stop], "a\nbA'"),
            OpcodeSample(0x54, "BINSTRING", [0x54] + le(2, 4) + Array("py".utf8) + [stop], "py"),
            OpcodeSample(0x55, "SHORT_BINSTRING", [0x55, 1, 0x7A, stop], "z"),
            OpcodeSample(0x43, "SHORT_BINBYTES", [0x80, 3, 0x43, 2, 0, 0xFF, stop], .bytes([0, 0xFF])),
            OpcodeSample(0x42, "BINBYTES", [0x80, 3, 0x42] + le(1, 4) + [7, stop], .bytes([7])),
            OpcodeSample(0x8E, "BINBYTES8", [0x80, 4, 0x8E] + le(1, 8) + [8, stop], .bytes([8])),
            OpcodeSample(0x96, "BYTEARRAY8", [0x80, 5, 0x96] + le(2, 8) + [1, 2, 0x94, stop], .byteArray([1, 2])),
            // Containers
            OpcodeSample(0x29, "EMPTY_TUPLE", [0x29, stop], .tuple([])),
            OpcodeSample(0x85, "TUPLE1", [0x80, 2] + k(1) + [0x85, stop], .tuple([1])),
            OpcodeSample(0x86, "TUPLE2", [0x80, 2] + k(1) + k(2) + [0x86, stop], .tuple([1, 2])),
            OpcodeSample(0x87, "TUPLE3", [0x80, 2] + k(1) + k(2) + k(3) + [0x87, stop], .tuple([1, 2, 3])),
            OpcodeSample(0x74, "TUPLE", [0x28, n, 0x74, stop], .tuple([.none])),
            OpcodeSample(0x5D, "EMPTY_LIST", [0x5D, stop], []),
            OpcodeSample(0x6C, "LIST", [0x28] + k(1) + k(2) + [0x6C, stop], [1, 2]),
            OpcodeSample(0x61, "APPEND", [0x5D] + k(1) + [0x61, stop], [1]),
            OpcodeSample(0x65, "APPENDS", [0x5D, 0x28] + k(1) + k(2) + [0x65, stop], [1, 2]),
            OpcodeSample(0x7D, "EMPTY_DICT", [0x7D, stop], [:]),
            OpcodeSample(0x64, "DICT", [0x28] + k(1) + k(2) + [0x64, stop], [1: 2]),
            OpcodeSample(0x73, "SETITEM", [0x7D] + k(1) + k(2) + [0x73, stop], [1: 2]),
            OpcodeSample(0x75, "SETITEMS", [0x7D, 0x28] + k(1) + k(2) + k(3) + k(4) + [0x75, stop], [1: 2, 3: 4]),
            OpcodeSample(0x8F, "EMPTY_SET", [0x80, 4, 0x8F, stop], .set([])),
            OpcodeSample(0x90, "ADDITEMS", [0x80, 4, 0x8F, 0x28] + k(1) + k(2) + [0x90, stop], .set([1, 2])),
            OpcodeSample(0x91, "FROZENSET", [0x80, 4, 0x28] + k(1) + [0x91, stop], .frozenSet([1])),
            // Objects
            OpcodeSample(
                0x63,
                "GLOBAL",
                [0x63] + line("collections") + line("OrderedDict") + [stop],
                typeName: "collections.OrderedDict (a class or function)"
            ),
            OpcodeSample(
                0x63,
                "GLOBAL with a Python 2 name",
                [0x80, 2, 0x63] + line("__builtin__") + line("set") + [stop],
                typeName: "builtins.set (a class or function)"
            ),
            OpcodeSample(
                0x93,
                "STACK_GLOBAL",
                [0x80, 4] + shortString("builtins") + shortString("len") + [0x93, stop],
                typeName: "builtins.len (a class or function)"
            ),
            OpcodeSample(
                0x52,
                "REDUCE",
                [0x63] + line("collections") + line("OrderedDict") + [0x29, 0x52, stop],
                typeName: "collections.OrderedDict"
            ),
            OpcodeSample(
                0x81,
                "NEWOBJ",
                [0x80, 2, 0x63] + line("collections") + line("OrderedDict") + [0x29, 0x81, stop],
                typeName: "collections.OrderedDict"
            ),
            OpcodeSample(
                0x92,
                "NEWOBJ_EX",
                [0x80, 4, 0x63] + line("collections") + line("OrderedDict") + [0x29, 0x7D, 0x92, stop],
                typeName: "collections.OrderedDict"
            ),
            OpcodeSample(
                0x62,
                "BUILD",
                [0x80, 2, 0x63] + line("argparse") + line("Namespace") + [0x29, 0x81, 0x7D]
                    + shortString("x") + k(1) + [0x73, 0x62, stop],
                typeName: "argparse.Namespace"
            ),
            OpcodeSample(
                0x73,
                "SETITEM on an object",
                [0x80, 2, 0x63] + line("collections") + line("OrderedDict") + [0x29, 0x52]
                    + k(1) + k(2) + [0x73, stop],
                typeName: "collections.OrderedDict"
            ),
            OpcodeSample(
                0x61,
                "APPEND on an object",
                [0x80, 2, 0x63] + line("collections") + line("deque") + [0x29, 0x52]
                    + k(1) + [0x61, 0x28] + k(2) + k(3) + [0x65, stop],
                typeName: "collections.deque"
            ),
            OpcodeSample(
                0x69,
                "INST",
                [0x28, 0x5D] + k(1) + [0x61, 0x69] + line("__builtin__") + line("frozenset") + [stop],
                typeName: "frozenset"
            ),
            OpcodeSample(
                0x6F,
                "OBJ",
                [0x28, 0x63] + line("builtins") + line("frozenset") + [0x5D] + k(1) + [0x61, 0x6F, stop],
                typeName: "frozenset"
            ),
            OpcodeSample(0x82, "EXT1", [0x80, 2, 0x82, 7, stop], typeName: "extension object 7"),
            OpcodeSample(0x83, "EXT2", [0x80, 2, 0x83, 0x34, 0x12, stop], typeName: "extension object 4660"),
            OpcodeSample(
                0x84,
                "EXT4",
                [0x80, 2, 0x84, 0x56, 0x34, 0x12, 0, stop],
                typeName: "extension object 1193046"
            ),
        ]
    }()
}
