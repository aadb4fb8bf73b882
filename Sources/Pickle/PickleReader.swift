import BigInt

/// Reads a pickle (protocols 0 to 5) into a ``PickleGraph`` without executing anything.
///
/// An iterative stack machine: input nesting never becomes recursion here. Every length and
/// count is checked against the bytes actually present and against ``PickleLimits`` before
/// anything is allocated for it.
public struct PickleReader {
    private let bytes: [UInt8]
    private let limits: PickleLimits
    private var position = 0
    private var opcodeOffset = 0
    private var opcode: UInt8 = 0
    private var nodes: [PickleNode] = []
    /// Nesting depth of each node, to bound it.
    private var depths: [Int] = []
    private var stack: [PickleNode.ID] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleNode.ID] = [:]
    /// From PROTO; a pickle without it is protocol 0 or 1.
    private var protocolVersion: UInt8 = 0

    /// Reads `bytes`, which must hold exactly one pickle.
    public static func read(_ bytes: [UInt8], limits: PickleLimits = PickleLimits()) throws(PickleError) -> PickleGraph {
        var reader = PickleReader(bytes: bytes, limits: limits)
        return try reader.run()
    }

    private init(bytes: [UInt8], limits: PickleLimits) {
        self.bytes = bytes
        self.limits = limits
        nodes.reserveCapacity(8)
        depths.reserveCapacity(8)
        stack.reserveCapacity(8)
    }

    // MARK: Errors

    private func error(_ code: PickleError.Code, _ message: String) -> PickleError {
        PickleError(code, message, offset: opcodeOffset, opcode: opcode)
    }

    // MARK: Input

    private mutating func take(_ count: Int) throws(PickleError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - position >= count else {
            throw error(.truncated, "the pickle ends inside an opcode (needs \(count) more bytes)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func byte() throws(PickleError) -> UInt8 {
        guard position < bytes.count else { throw error(.truncated, "the pickle ends before STOP") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func littleEndian(_ count: Int) throws(PickleError) -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in try take(count).enumerated() { value |= UInt64(byte) << (8 * shift) }
        return value
    }

    /// A length field, checked against what is left so a huge announced length is an error,
    /// not an allocation.
    private mutating func length(_ width: Int) throws(PickleError) -> Int {
        let value = try littleEndian(width)
        guard value <= UInt64(bytes.count - position) else {
            throw error(.truncated, "a length of \(value) bytes runs past the end of the pickle")
        }
        return Int(value)
    }

    /// A text line, for protocol 0 opcodes.
    private mutating func line() throws(PickleError) -> ArraySlice<UInt8> {
        guard let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else {
            throw error(.truncated, "the pickle ends inside a text line")
        }
        defer { position = end + 1 }
        return bytes[position..<end]
    }

    // MARK: Stack

    private mutating func push(_ node: PickleNode, depth: Int = 0) throws(PickleError) {
        guard nodes.count < limits.maxNodes else {
            throw error(.limitExceeded, "more than \(limits.maxNodes) values")
        }
        guard depth <= limits.maxDepth else {
            throw error(.limitExceeded, "nested deeper than \(limits.maxDepth) levels")
        }
        nodes.append(node)
        depths.append(depth)
        stack.append(nodes.count - 1)
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

    private func depth(of ids: some Sequence<PickleNode.ID>) -> Int {
        var deepest = 0
        for id in ids where depths[id] + 1 > deepest { deepest = depths[id] + 1 }
        return deepest
    }

    private mutating func deepen(_ id: PickleNode.ID, toHold children: some Sequence<PickleNode.ID>) throws(PickleError) {
        let needed = depth(of: children)
        if needed > depths[id] {
            guard needed <= limits.maxDepth else {
                throw error(.limitExceeded, "nested deeper than \(limits.maxDepth) levels")
            }
            depths[id] = needed
        }
    }

    // MARK: Memo

    private mutating func memoPut(_ index: Int) throws(PickleError) {
        let value = try top()
        if memo[index] == nil {
            guard memo.count < limits.maxMemoEntries else {
                throw error(.limitExceeded, "more than \(limits.maxMemoEntries) memo entries")
            }
        }
        memo[index] = value
    }

    private mutating func memoGet(_ index: Int) throws(PickleError) {
        guard let id = memo[index] else {
            throw error(.badMemoReference, "memo slot \(index) was never filled")
        }
        stack.append(id)
    }

    // MARK: Run

    private mutating func run() throws(PickleError) -> PickleGraph {
        guard bytes.count <= limits.maxInputBytes else {
            throw PickleError(.limitExceeded, "the pickle is \(bytes.count) bytes; the limit is \(limits.maxInputBytes)")
        }
        while true {
            opcodeOffset = position
            opcode = try byte()
            if opcode == Opcode.stop {
                let result = try pop()
                guard position == bytes.count else {
                    throw error(.trailingData, "\(bytes.count - position) bytes follow STOP")
                }
                return PickleGraph(uncheckedNodes: nodes, root: result)
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
            _ = try littleEndian(8)  // a hint for buffering; the opcodes are read linearly anyway
        case Opcode.mark:
            guard marks.count < limits.maxDepth else {
                throw error(.limitExceeded, "MARKs nested deeper than \(limits.maxDepth) levels")
            }
            marks.append(stack.count)
        case Opcode.pop:
            if stack.count > floor {
                stack.removeLast()
            } else if marks.popLast() == nil {
                throw error(.invalidStructure, "stack underflow")
            }
        case Opcode.popMark:
            _ = try popMark()
        case Opcode.dup:
            stack.append(try top())

        // Memo
        case Opcode.memoize: try memoPut(memo.count)
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
        case Opcode.binInt: try push(.int(Int(Int32(bitPattern: UInt32(try littleEndian(4))))))
        case Opcode.long1, Opcode.long4:
            let count = try length(opcode == Opcode.long1 ? 1 : 4)
            guard count <= limits.maxIntegerBytes else {
                throw error(.limitExceeded, "an integer of \(count) bytes; the limit is \(limits.maxIntegerBytes)")
            }
            try push(LongEncoding.decode(try take(count)))
        case Opcode.binFloat:
            var bits: UInt64 = 0
            for byte in try take(8) { bits = bits << 8 | UInt64(byte) }
            try push(.float(bitPattern: bits))
        case Opcode.int: try push(try TextForms.int(try line(), limits: limits, error: error))
        case Opcode.long: try push(try TextForms.long(try line(), limits: limits, error: error))
        case Opcode.float: try push(try TextForms.float(try line(), error: error))

        // Text and bytes
        case Opcode.shortBinUnicode: try pushString(try take(try length(1)))
        case Opcode.binUnicode: try pushString(try take(try length(4)))
        case Opcode.binUnicode8: try pushString(try take(try length(8)))
        case Opcode.unicode: try push(.string(utf8: try TextForms.rawUnicodeEscape(try line(), error: error)))
        case Opcode.shortBinString: try pushPython2String(try take(try length(1)))
        case Opcode.binString:
            let raw = Int32(bitPattern: UInt32(try littleEndian(4)))
            guard raw >= 0, Int(raw) <= bytes.count - position else {
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
            try push(.tuple(items), depth: depth(of: items))
        case Opcode.tuple:
            let items = try popMark()
            try push(.tuple(items), depth: depth(of: items))
        case Opcode.emptyList: try push(.list([]))
        case Opcode.list:
            let items = try popMark()
            try push(.list(items), depth: depth(of: items))
        case Opcode.emptyDict: try push(.dict([]))
        case Opcode.dict:
            let items = try popMark()
            try push(.dict(try pairs(items)), depth: depth(of: items))
        case Opcode.emptySet: try push(.set([]))
        case Opcode.frozenSet:
            let items = try popMark()
            try push(.frozenSet(items), depth: depth(of: items))
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
            let items = try popMark()
            try setItems(try pairs(items), on: try top())
        case Opcode.addItems:
            let items = try popMark()
            try addItems(items, to: try top())

        // Objects, kept opaque
        case Opcode.global:
            let module = try TextForms.ascii(try line(), error: error)
            let name = try TextForms.ascii(try line(), error: error)
            try pushGlobal(module: module, name: name)
        case Opcode.stackGlobal:
            let name = try pop()
            let module = try pop()
            guard case .string(let moduleUTF8) = nodes[module], case .string(let nameUTF8) = nodes[name],
                let moduleName = String(validating: moduleUTF8, as: UTF8.self),
                let plainName = String(validating: nameUTF8, as: UTF8.self)
            else {
                throw error(.invalidStructure, "STACK_GLOBAL needs two strings")
            }
            try pushGlobal(module: moduleName, name: plainName)
        case Opcode.reduce:
            let arguments = try pop()
            let callable = try pop()
            try pushObject(.reduce(callable: callable, arguments: arguments), children: [callable, arguments])
        case Opcode.newObj:
            let arguments = try pop()
            let cls = try pop()
            try pushObject(.newObject(cls: cls, arguments: arguments), children: [cls, arguments])
        case Opcode.newObjEx:
            let keywords = try pop()
            let arguments = try pop()
            let cls = try pop()
            try pushObject(
                .newObjectEx(cls: cls, arguments: arguments, keywords: keywords), children: [cls, arguments, keywords])
        case Opcode.inst:
            let module = try TextForms.ascii(try line(), error: error)
            let name = try TextForms.ascii(try line(), error: error)
            let arguments = try popMark()
            try pushObject(.instance(module: module, name: name, arguments: arguments), children: arguments)
        case Opcode.obj:
            let items = try popMark()
            guard let cls = items.first else { throw error(.invalidStructure, "OBJ needs a class") }
            try pushObject(.object(cls: cls, arguments: Array(items.dropFirst())), children: items)
        case Opcode.build:
            let state = try pop()
            let target = try top()
            try deepen(target, toHold: [state])
            guard case .object(var object) = nodes[target] else {
                throw error(.invalidStructure, "BUILD applied to a \(nodes[target].kindName)")
            }
            nodes[target] = .none  // keep the object's arrays uniquely referenced
            object.states.append(state)
            nodes[target] = .object(object)
        case Opcode.ext1: try pushObject(.extensionCode(Int(try byte())), children: [])
        case Opcode.ext2: try pushObject(.extensionCode(Int(try littleEndian(2))), children: [])
        case Opcode.ext4: try pushObject(.extensionCode(Int(Int32(bitPattern: UInt32(try littleEndian(4))))), children: [])

        case Opcode.persID, Opcode.binPersID:
            throw error(.forbiddenOpcode, "persistent ids are not supported (they need the sender's own code)")
        case Opcode.nextBuffer, Opcode.readonlyBuffer:
            throw error(.forbiddenOpcode, "out-of-band buffers are not supported")
        default:
            throw error(.unknownOpcode, "unknown opcode")
        }
    }

    /// Protocols 0 to 2 may carry Python 2 names, which Python 3 renames as it reads them.
    private mutating func pushGlobal(module: String, name: String) throws(PickleError) {
        let (module, name) = protocolVersion < 3 ? CompatNames.python3(module: module, name: name) : (module, name)
        try push(.object(PickleObject(constructor: .global(module: module, name: name))))
    }

    private mutating func pushString(_ utf8: ArraySlice<UInt8>) throws(PickleError) {
        try push(.string(utf8: Array(utf8)))
    }

    /// Python 2 `str`: Python 3 reads it as `str` with the default ASCII decoding.
    private mutating func pushPython2String(_ raw: some Collection<UInt8>) throws(PickleError) {
        guard raw.allSatisfy({ $0 < 0x80 }) else {
            throw error(.invalidValue, "a Python 2 string holds non-ASCII bytes")
        }
        try push(.string(utf8: Array(raw)))
    }

    private mutating func pushObject(_ constructor: PickleObject.Constructor, children: [PickleNode.ID])
        throws(PickleError)
    {
        try push(.object(PickleObject(constructor: constructor)), depth: depth(of: children))
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

    private mutating func appendItems(_ items: [PickleNode.ID], to target: PickleNode.ID) throws(PickleError) {
        try deepen(target, toHold: items)
        switch nodes[target] {
        case .list(var list):
            nodes[target] = .none
            list.append(contentsOf: items)
            nodes[target] = .list(list)
        case .object(var object):
            nodes[target] = .none
            object.appendedItems.append(contentsOf: items)
            nodes[target] = .object(object)
        default:
            throw error(.invalidStructure, "APPEND to a \(nodes[target].kindName)")
        }
    }

    private mutating func setItems(_ entries: [DictEntry], on target: PickleNode.ID) throws(PickleError) {
        try deepen(target, toHold: entries.flatMap { [$0.key, $0.value] })
        switch nodes[target] {
        case .dict(var dict):
            nodes[target] = .none
            dict.append(contentsOf: entries)
            nodes[target] = .dict(dict)
        case .object(var object):
            nodes[target] = .none
            object.setItems.append(contentsOf: entries)
            nodes[target] = .object(object)
        default:
            throw error(.invalidStructure, "SETITEM on a \(nodes[target].kindName)")
        }
    }

    private mutating func addItems(_ items: [PickleNode.ID], to target: PickleNode.ID) throws(PickleError) {
        try deepen(target, toHold: items)
        switch nodes[target] {
        case .set(var set):
            nodes[target] = .none
            set.append(contentsOf: items)
            nodes[target] = .set(set)
        case .object(var object):
            nodes[target] = .none
            object.addedItems.append(contentsOf: items)
            nodes[target] = .object(object)
        default:
            throw error(.invalidStructure, "ADDITEMS on a \(nodes[target].kindName)")
        }
    }

    private func decimalIndex(_ line: ArraySlice<UInt8>) throws(PickleError) -> Int {
        guard !line.isEmpty, line.count <= 18, line.allSatisfy({ (0x30...0x39).contains($0) }),
            let index = Int(String(decoding: line, as: UTF8.self))
        else {
            throw error(.invalidValue, "a memo index must be a decimal number")
        }
        return index
    }
}

extension PickleNode {
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
