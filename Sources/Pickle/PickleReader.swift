import BigInt

/// Reads a pickle (protocols 0 to 5) into a ``PickleGraph`` without executing anything.
///
/// An iterative stack machine: input nesting never becomes recursion here. Every length and
/// count is checked against the bytes actually present and against ``PickleLimits`` before
/// anything is allocated for it, and every malformed input is a thrown ``PickleError``.
///
/// - Python 2 strings (STRING, BINSTRING, SHORT_BINSTRING) are read as `str`, the way
///   `pickle.loads` does by default (ASCII); one holding non-ASCII bytes is an error.
/// - Protocol 0–2 globals get Python 3's names (`__builtin__` → `builtins`, …), as
///   `pickle.loads` renames them (`fix_imports`).
/// - PERSID/BINPERSID and out-of-band buffers (NEXT_BUFFER/READONLY_BUFFER) are refused:
///   they need code or data from the sender that a pickle does not carry.
public struct PickleReader: Sendable {
    private let bytes: ArraySlice<UInt8>
    private let limits: PickleLimits
    private var position: Int
    private var opcodeOffset = 0
    private var opcode: UInt8 = 0
    private var nodes: [PickleNode] = []
    private var stack: [PickleNode.ID] = []
    /// Stack heights at each open MARK.
    private var marks: [Int] = []
    /// Memo slots 0..<n as filled in order (what Python writes); any other index is sparse.
    private var memoDense: [PickleNode.ID] = []
    private var memoSparse: [Int: PickleNode.ID] = [:]
    /// From PROTO; a pickle without it is protocol 0 or 1.
    private var protocolVersion: UInt8 = 0

    /// Reads `bytes`, which must hold exactly one pickle.
    public static func read(_ bytes: [UInt8], limits: PickleLimits = PickleLimits()) throws(PickleError) -> PickleGraph
    {
        // Most task values are one small integer: no stack machine needed.
        if bytes.count <= 32, let integer = singleInteger(bytes) {
            return PickleGraph(uncheckedNodes: [integer], root: 0)
        }
        return try read(bytes[...], limits: limits)
    }

    /// Reads `bytes`, which must hold exactly one pickle. Error offsets count from its start.
    public static func read(
        _ bytes: ArraySlice<UInt8>,
        limits: PickleLimits = PickleLimits()
    ) throws(PickleError)
        -> PickleGraph
    {
        guard bytes.count <= limits.maxInputBytes else {
            throw PickleError(
                .limitExceeded,
                "the pickle is \(bytes.count) bytes; the limit is \(limits.maxInputBytes)"
            )
        }
        var reader = PickleReader(bytes: bytes, limits: limits)
        return try reader.run()
    }

    private init(bytes: ArraySlice<UInt8>, limits: PickleLimits) {
        self.bytes = bytes
        self.limits = limits
        self.position = bytes.startIndex
        // Small pickles (the common case) never grow these.
        nodes.reserveCapacity(min(bytes.count / 2 + 1, 16))
        stack.reserveCapacity(8)
    }

    // MARK: Errors

    private func error(_ code: PickleError.Code, _ message: String) -> PickleError {
        PickleError(code, message, offset: opcodeOffset, opcode: opcode)
    }

    // MARK: Input

    private var remaining: Int { bytes.endIndex - position }

    private mutating func take(_ count: Int) throws(PickleError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else {
            throw error(.truncated, "the pickle ends inside an opcode (it needs \(count) more bytes)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func byte() throws(PickleError) -> UInt8 {
        guard position < bytes.endIndex else { throw error(.truncated, "the pickle ends before STOP") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func littleEndian(_ count: Int) throws(PickleError) -> UInt64 {
        guard remaining >= count else {
            throw error(.truncated, "the pickle ends inside an opcode (it needs \(count) more bytes)")
        }
        var value: UInt64 = 0
        for index in 0..<count { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        position += count
        return value
    }

    /// A length field, checked against what is left so that a huge announced length is an
    /// error, never an allocation.
    private mutating func length(_ width: Int) throws(PickleError) -> Int {
        let value = try littleEndian(width)
        guard value <= UInt64(remaining) else {
            throw error(.truncated, "a length of \(value) bytes runs past the end of the pickle")
        }
        return Int(value)
    }

    /// A text line, for protocol 0 opcodes (without its newline).
    private mutating func line() throws(PickleError) -> ArraySlice<UInt8> {
        guard let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else {
            throw error(.truncated, "the pickle ends inside a text line")
        }
        defer { position = end + 1 }
        return bytes[position..<end]
    }

    // MARK: Stack

    private mutating func push(_ node: PickleNode) throws(PickleError) {
        guard nodes.count < limits.maxNodes else {
            throw error(.limitExceeded, "more than \(limits.maxNodes) values")
        }
        nodes.append(node)
        stack.append(nodes.count - 1)
    }

    /// Pushes an existing node again (DUP, GET), bounded like new nodes so that a run of
    /// DUPs can't grow the stack without limit.
    private mutating func pushExisting(_ id: PickleNode.ID) throws(PickleError) {
        guard stack.count < limits.maxNodes else {
            throw error(.limitExceeded, "more than \(limits.maxNodes) values on the stack")
        }
        stack.append(id)
    }

    private var floor: Int { marks.last ?? 0 }

    private mutating func pop() throws(PickleError) -> PickleNode.ID {
        guard stack.count > floor else { throw error(.invalidStructure, "stack underflow") }
        return stack.removeLast()
    }

    private func top() throws(PickleError) -> PickleNode.ID {
        guard stack.count > floor, let last = stack.last else { throw error(.invalidStructure, "stack underflow") }
        return last
    }

    /// The items above the topmost MARK, removing them and the mark.
    private mutating func popMark() throws(PickleError) -> [PickleNode.ID] {
        guard let mark = marks.popLast() else { throw error(.invalidStructure, "no MARK to pop to") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    // MARK: Memo

    private var memoCount: Int { memoDense.count + memoSparse.count }

    private mutating func memoPut(_ index: Int) throws(PickleError) {
        let value = try top()
        if index < memoDense.count {
            memoDense[index] = value
            return
        }
        let isNew = memoSparse[index] == nil
        if isNew {
            guard memoCount < limits.maxMemoEntries else {
                throw error(.limitExceeded, "more than \(limits.maxMemoEntries) memo entries")
            }
        }
        // Python fills slots 0, 1, 2, … in order; only odd hand-written pickles go sparse.
        if index == memoDense.count, memoSparse.isEmpty {
            memoDense.append(value)
        } else {
            memoSparse[index] = value
        }
    }

    private mutating func memoGet(_ index: Int) throws(PickleError) {
        let id: PickleNode.ID
        if index >= 0, index < memoDense.count {
            id = memoDense[index]
        } else if let sparse = memoSparse[index] {
            id = sparse
        } else {
            throw error(.badMemoReference, "memo slot \(index) was never filled")
        }
        try pushExisting(id)
    }

    // MARK: Run

    private mutating func run() throws(PickleError) -> PickleGraph {
        while true {
            opcodeOffset = position - bytes.startIndex
            opcode = try byte()
            if opcode == Opcode.stop {
                // Python would take the top even inside a MARK; no pickler writes that.
                guard marks.isEmpty else { throw error(.invalidStructure, "a MARK is still open at STOP") }
                let result = try pop()
                guard position == bytes.endIndex else {
                    throw error(.trailingData, "\(remaining) bytes follow STOP")
                }
                let graph = PickleGraph(uncheckedNodes: nodes, root: result)
                // A nesting deeper than the node count is impossible, so small pickles skip this.
                if nodes.count > limits.maxDepth, graph.nestingDepth(from: result) > limits.maxDepth {
                    throw error(.limitExceeded, "values nested deeper than \(limits.maxDepth) levels")
                }
                return graph
            }
            try step()
        }
    }

    private mutating func step() throws(PickleError) {
        switch opcode {
        case Opcode.proto:
            let version = try byte()
            guard version <= 5 else { throw error(.invalidValue, "unsupported pickle protocol \(version)") }
            protocolVersion = version
        case Opcode.frame:
            // A hint for buffered readers; the opcodes are read linearly anyway. Python still
            // refuses a frame that runs past the end.
            let size = try littleEndian(8)
            guard size <= UInt64(remaining) else {
                throw error(.truncated, "a frame of \(size) bytes runs past the end of the pickle")
            }
        case Opcode.mark:
            guard marks.count < limits.maxDepth else {
                throw error(.limitExceeded, "MARKs nested deeper than \(limits.maxDepth) levels")
            }
            marks.append(stack.count)
        case Opcode.pop:
            // POP of a MARK alone removes the mark, as Python's unpickler does.
            if stack.count > floor {
                stack.removeLast()
            } else if marks.popLast() == nil {
                throw error(.invalidStructure, "stack underflow")
            }
        case Opcode.popMark:
            _ = try popMark()
        case Opcode.dup:
            try pushExisting(try top())

        // Memo
        case Opcode.memoize: try memoPut(memoCount)
        case Opcode.binPut: try memoPut(Int(try byte()))
        case Opcode.longBinPut: try memoPut(Int(try littleEndian(4)))
        case Opcode.put: try memoPut(try decimalIndex(try line()))
        case Opcode.binGet: try memoGet(Int(try byte()))
        case Opcode.longBinGet: try memoGet(Int(try littleEndian(4)))
        case Opcode.get: try memoGet(try decimalIndex(try line()))

        // Scalars
        case Opcode.none: try push(.none)
        case Opcode.newTrue: try push(.bool(true))
        case Opcode.newFalse: try push(.bool(false))
        case Opcode.binInt1: try push(.int(Int(try byte())))
        case Opcode.binInt2: try push(.int(Int(try littleEndian(2))))
        case Opcode.binInt: try push(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))
        case Opcode.long1, Opcode.long4:
            let count = try length(opcode == Opcode.long1 ? 1 : 4)
            guard count <= limits.maxIntegerBytes else {
                throw error(.limitExceeded, "an integer of \(count) bytes; the limit is \(limits.maxIntegerBytes)")
            }
            try push(LongEncoding.decode(try take(count)))
        case Opcode.binFloat:
            // The one big-endian field in the format.
            var bits: UInt64 = 0
            for byte in try take(8) { bits = bits << 8 | UInt64(byte) }
            try push(.float(bitPattern: bits))
        case Opcode.int: try push(try TextForms.int(try line(), limits: limits, error: error))
        case Opcode.long: try push(try TextForms.long(try line(), limits: limits, error: error))
        case Opcode.float: try push(try TextForms.float(try line(), error: error))

        // Text and bytes
        case Opcode.shortBinUnicode: try push(.string(utf8: Array(try take(try length(1)))))
        case Opcode.binUnicode: try push(.string(utf8: Array(try take(try length(4)))))
        case Opcode.binUnicode8: try push(.string(utf8: Array(try take(try length(8)))))
        case Opcode.unicode: try push(.string(utf8: try TextForms.rawUnicodeEscape(try line(), error: error)))
        case Opcode.shortBinString: try pushPython2String(try take(try length(1)))
        case Opcode.binString:
            // A signed length: Python refuses a negative one.
            let raw = Int32(truncatingIfNeeded: try littleEndian(4))
            guard raw >= 0, Int(raw) <= remaining else {
                throw error(.truncated, "a length of \(raw) bytes runs past the end of the pickle")
            }
            try pushPython2String(try take(Int(raw)))
        case Opcode.string: try pushPython2String(try TextForms.quotedString(try line(), error: error))
        case Opcode.shortBinBytes: try push(.bytes(Array(try take(try length(1)))))
        case Opcode.binBytes: try push(.bytes(Array(try take(try length(4)))))
        case Opcode.binBytes8: try push(.bytes(Array(try take(try length(8)))))
        case Opcode.byteArray8: try push(.byteArray(Array(try take(try length(8)))))

        // Containers
        case Opcode.emptyTuple: try push(.tuple([]))
        case Opcode.tuple1, Opcode.tuple2, Opcode.tuple3:
            let count = Int(opcode - Opcode.tuple1) + 1
            guard stack.count - floor >= count else { throw error(.invalidStructure, "stack underflow") }
            let items = Array(stack.suffix(count))
            stack.removeLast(count)
            try push(.tuple(items))
        case Opcode.tuple: try push(.tuple(try popMark()))
        case Opcode.emptyList: try push(.list([]))
        case Opcode.list: try push(.list(try popMark()))
        case Opcode.emptyDict: try push(.dict([]))
        case Opcode.dict: try push(.dict(try pairs(try popMark())))
        case Opcode.emptySet: try push(.set([]))
        case Opcode.frozenSet: try push(.frozenSet(try popMark()))
        case Opcode.append:
            let item = try pop()
            try appendItems([item], to: try top())
        case Opcode.appends:
            let items = try popMark()
            try appendItems(items, to: try top())
        case Opcode.setItem:
            let value = try pop()
            let key = try pop()
            try setItems([DictEntry(key: key, value: value)], on: try top())
        case Opcode.setItems:
            let entries = try pairs(try popMark())
            try setItems(entries, on: try top())
        case Opcode.addItems:
            let items = try popMark()
            try addItems(items, to: try top())

        // Objects, kept opaque
        case Opcode.global:
            let module = try TextForms.name(try line(), error: error)
            let name = try TextForms.name(try line(), error: error)
            try pushGlobal(module: module, name: name)
        case Opcode.stackGlobal:
            let name = try pop()
            let module = try pop()
            guard case .string(let moduleUTF8) = nodes[module], case .string(let nameUTF8) = nodes[name],
                let moduleName = String(validating: moduleUTF8, as: UTF8.self),
                let plainName = String(validating: nameUTF8, as: UTF8.self)
            else {
                throw error(.invalidStructure, "STACK_GLOBAL needs two strs")
            }
            let renamed = python3Name(module: moduleName, name: plainName)
            if renamed.module == moduleName, renamed.name == plainName {
                try pushObject(.stackGlobal(module: module, name: name))
            } else {
                try pushObject(.global(module: renamed.module, name: renamed.name))
            }
        case Opcode.reduce:
            let arguments = try pop()
            let callable = try pop()
            try pushObject(.reduce(callable: callable, arguments: arguments))
        case Opcode.newObj:
            let arguments = try pop()
            let cls = try pop()
            try pushObject(.newObject(cls: cls, arguments: arguments))
        case Opcode.newObjEx:
            let keywords = try pop()
            let arguments = try pop()
            let cls = try pop()
            try pushObject(.newObjectEx(cls: cls, arguments: arguments, keywords: keywords))
        case Opcode.inst:
            let module = try TextForms.name(try line(), error: error)
            let name = try TextForms.name(try line(), error: error)
            let arguments = try popMark()
            let renamed = python3Name(module: module, name: name)
            try pushObject(.instance(module: renamed.module, name: renamed.name, arguments: arguments))
        case Opcode.obj:
            let items = try popMark()
            guard let cls = items.first else { throw error(.invalidStructure, "OBJ needs a class") }
            try pushObject(.object(cls: cls, arguments: Array(items.dropFirst())))
        case Opcode.build:
            let state = try pop()
            try mutateObject(try top(), opcodeName: "BUILD") { $0.append(.build(state: state)) }
        case Opcode.ext1: try pushObject(.extensionCode(Int(try byte())))
        case Opcode.ext2: try pushObject(.extensionCode(Int(try littleEndian(2))))
        case Opcode.ext4: try pushObject(.extensionCode(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))

        case Opcode.persID, Opcode.binPersID:
            throw error(.forbiddenOpcode, "persistent ids are not supported (they need the sender's own code)")
        case Opcode.nextBuffer, Opcode.readonlyBuffer:
            throw error(.forbiddenOpcode, "out-of-band buffers are not supported")
        default:
            throw error(.unknownOpcode, "unknown opcode")
        }
    }

    /// Protocols 0 to 2 may carry Python 2 names, which Python 3 renames as it reads them.
    private func python3Name(module: String, name: String) -> (module: String, name: String) {
        protocolVersion < 3 ? CompatNames.python3(module: module, name: name) : (module, name)
    }

    private mutating func pushGlobal(module: String, name: String) throws(PickleError) {
        let renamed = python3Name(module: module, name: name)
        try push(.object(PickleObject(constructor: .global(module: renamed.module, name: renamed.name))))
    }

    /// Python 2 `str`: Python 3 reads it as `str` with the default ASCII decoding.
    private mutating func pushPython2String(_ raw: some Collection<UInt8>) throws(PickleError) {
        guard raw.allSatisfy({ $0 < 0x80 }) else {
            throw error(.invalidValue, "a Python 2 string holds non-ASCII bytes")
        }
        try push(.string(utf8: Array(raw)))
    }

    private mutating func pushObject(_ constructor: PickleObject.Constructor) throws(PickleError) {
        try push(.object(PickleObject(constructor: constructor)))
    }

    private func pairs(_ items: [PickleNode.ID]) throws(PickleError) -> [DictEntry] {
        guard items.count % 2 == 0 else { throw error(.invalidStructure, "an odd number of dict items") }
        var entries: [DictEntry] = []
        entries.reserveCapacity(items.count / 2)
        var index = 0
        while index < items.count {
            entries.append(DictEntry(key: items[index], value: items[index + 1]))
            index += 2
        }
        return entries
    }

    // The target node is swapped out while it changes, so its arrays stay uniquely
    // referenced and grow in place instead of being copied on every APPEND.

    private mutating func mutateObject(
        _ target: PickleNode.ID,
        opcodeName: String,
        _ change: (inout [PickleObject.Mutation]) -> Void
    ) throws(PickleError) {
        guard case .object(var object) = nodes[target] else {
            throw error(.invalidStructure, "\(opcodeName) applied to a \(nodes[target].kindName)")
        }
        nodes[target] = .none
        change(&object.mutations)
        nodes[target] = .object(object)
    }

    private mutating func appendItems(_ items: [PickleNode.ID], to target: PickleNode.ID) throws(PickleError) {
        if case .list(var list) = nodes[target] {
            nodes[target] = .none
            list.append(contentsOf: items)
            nodes[target] = .list(list)
        } else {
            try mutateObject(target, opcodeName: "APPEND") { $0.append(.append(items)) }
        }
    }

    private mutating func setItems(_ entries: [DictEntry], on target: PickleNode.ID) throws(PickleError) {
        if case .dict(var dict) = nodes[target] {
            nodes[target] = .none
            dict.append(contentsOf: entries)
            nodes[target] = .dict(dict)
        } else {
            try mutateObject(target, opcodeName: "SETITEM") { $0.append(.setItems(entries)) }
        }
    }

    private mutating func addItems(_ items: [PickleNode.ID], to target: PickleNode.ID) throws(PickleError) {
        if case .set(var set) = nodes[target] {
            nodes[target] = .none
            set.append(contentsOf: items)
            nodes[target] = .set(set)
        } else {
            try mutateObject(target, opcodeName: "ADDITEMS") { $0.append(.addItems(items)) }
        }
    }

    private func decimalIndex(_ line: ArraySlice<UInt8>) throws(PickleError) -> Int {
        guard !line.isEmpty, line.count <= 18, line.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw error(.invalidValue, "a memo index must be a decimal number")
        }
        return line.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }
}

extension PickleNode {
    /// The Python type of the node itself (objects are just "object"), for messages.
    var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .byteArray: return "bytearray"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .set: return "set"
        case .frozenSet: return "frozenset"
        case .object: return "object"
        }
    }
}
