/// Writes a ``PickleGraph`` as a protocol 4 (or 5) pickle.
///
/// The output is what CPython's `pickle.dumps(value, 4)` writes for the same value: the same
/// opcodes, MEMOIZE after every str, bytes, non-empty tuple, list, dict, set, global and
/// object, batches of 1000 items, and FRAMEs of about 64 KiB with large str/bytes between
/// them. A graph read from a protocol 4 pickle Python wrote is written back byte for byte.
/// Shared references and cycles become memo GETs. Iterative: a deep value can't overflow the
/// call stack.
public struct PickleWriter: Sendable {
    private enum Work {
        case save(PickleNode.ID)
        case opcode(UInt8)
        case finishTuple(PickleNode.ID, count: Int)
        case finishFrozenSet(PickleNode.ID)
        case finishObject(PickleNode.ID)
        case finishStackGlobal(PickleNode.ID)
    }

    /// What the writer knows about one node.
    private struct Slot {
        /// Memo index once written, else -1.
        var memo: Int32 = -1
        /// How many times the node is being written right now (a tuple or object can be
        /// entered a second time through a cycle, as in Python's pickler).
        var entered: Int32 = 0
    }

    static let frameTarget = 64 * 1024
    static let frameHeaderSize = 9
    static let batchSize = 1000

    private let nodes: [PickleNode]
    private let protocolVersion: UInt8
    private var out: [UInt8] = []
    /// Where the open frame's header placeholder starts, or -1.
    private var frameStart = -1
    private var slots: [Slot] = []
    private var memoCount: Int32 = 0
    private var work: [Work] = []

    /// The pickle of `graph`.
    ///
    /// - Parameter protocolVersion: 4 (the default, what Python 3.8–3.13 write) or 5
    ///   (the same, with BYTEARRAY8 for `bytearray`).
    /// - Throws: `invalidStructure` for a hand-built graph no pickle can express, such as a
    ///   tuple that contains itself with no list, dict, set or object in between.
    public static func write(_ graph: PickleGraph, protocolVersion: Int = 4) throws(PickleError) -> [UInt8] {
        precondition(protocolVersion == 4 || protocolVersion == 5, "PickleWriter writes protocol 4 or 5")
        var writer = PickleWriter(nodes: graph.nodes, protocolVersion: UInt8(protocolVersion))
        return try writer.run(root: graph.root)
    }

    /// The pickle of a single scalar, str or bytes node: the hot path, with no graph state.
    static func writeLeaf(_ node: PickleNode, protocolVersion: Int = 4) -> [UInt8]? {
        var writer = PickleWriter(nodes: [], protocolVersion: UInt8(protocolVersion))
        guard writer.emitLeaf(node) else { return nil }
        writer.finish()
        return writer.out
    }

    private init(nodes: [PickleNode], protocolVersion: UInt8) {
        self.nodes = nodes
        self.protocolVersion = protocolVersion
        out.reserveCapacity(32)
        out.append(Opcode.proto)
        out.append(protocolVersion)
    }

    private mutating func run(root: PickleNode.ID) throws(PickleError) -> [UInt8] {
        if emitLeaf(nodes[root]) {
            finish()
            return out
        }
        slots = Array(repeating: Slot(), count: nodes.count)
        work.append(.save(root))
        while let item = work.popLast() {
            switch item {
            case .save(let id): try save(id)
            case .opcode(let opcode): put(opcode)
            case .finishTuple(let id, let count): finishTuple(id, count: count)
            case .finishFrozenSet(let id): finishFrozenSet(id)
            case .finishObject(let id): try finishObject(id)
            case .finishStackGlobal(let id):
                put(Opcode.stackGlobal)
                memoize(id)
                if case .object(let object) = nodes[id] { schedule(object.mutations) }
            }
        }
        finish()
        return out
    }

    private mutating func finish() {
        put(Opcode.stop)
        commitFrame()
    }

    // MARK: Output and framing (as CPython's C pickler: a header placeholder, patched or dropped)

    @inline(__always)
    private mutating func openFrame() {
        if frameStart < 0 {
            frameStart = out.count
            out.append(contentsOf: repeatElement(0, count: Self.frameHeaderSize))
        }
    }

    @inline(__always)
    private mutating func put(_ byte: UInt8) {
        openFrame()
        out.append(byte)
    }

    private mutating func put(_ bytes: some Collection<UInt8>) {
        openFrame()
        out.append(contentsOf: bytes)
    }

    private mutating func putLittleEndian(_ value: UInt64, width: Int) {
        openFrame()
        for index in 0..<width { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }

    /// Ends the open frame: its header gets the length, or goes away for a frame under 4 bytes.
    private mutating func commitFrame() {
        guard frameStart >= 0 else { return }
        let bodyStart = frameStart + Self.frameHeaderSize
        let length = out.count - bodyStart
        if length >= 4 {
            out[frameStart] = Opcode.frame
            for index in 0..<8 { out[frameStart + 1 + index] = UInt8(truncatingIfNeeded: length >> (8 * index)) }
        } else {
            out.removeSubrange(frameStart..<bodyStart)
        }
        frameStart = -1
    }

    /// The start of every `save()` in Python: a frame that reached its target size ends here.
    @inline(__always)
    private mutating func boundary() {
        if frameStart >= 0, out.count - frameStart - Self.frameHeaderSize >= Self.frameTarget { commitFrame() }
    }

    // MARK: Memo

    private mutating func memoize(_ id: PickleNode.ID) {
        slots[id].memo = memoCount
        memoCount += 1
        put(Opcode.memoize)
    }

    /// Memoizes a value that has no node of its own (a synthesized str, tuple or global).
    private mutating func memoizeAnonymous() {
        memoCount += 1
        put(Opcode.memoize)
    }

    private mutating func emitGet(_ index: Int32) {
        if index < 256 {
            put(Opcode.binGet)
            put(UInt8(index))
        } else {
            put(Opcode.longBinGet)
            putLittleEndian(UInt64(UInt32(index)), width: 4)
        }
    }

    // MARK: Scalars, str and bytes

    /// Writes a node that holds no references; false for anything else.
    private mutating func emitLeaf(_ node: PickleNode) -> Bool {
        switch node {
        case .none: put(Opcode.none)
        case .bool(let value): put(value ? Opcode.newTrue : Opcode.newFalse)
        case .int(let value): emitInteger(value)
        case .bigInt(let value):
            if let small = Int(exactly: value) { emitInteger(small) } else { emitLong(LongEncoding.encode(value)) }
        case .float(let bits):
            put(Opcode.binFloat)
            openFrame()
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
            }
        case .string(let utf8):
            emitString(utf8)
            memoCount += 1  // a leaf root has no node state to record
            put(Opcode.memoize)
        case .bytes(let bytes):
            emitBytes(bytes)
            memoCount += 1
            put(Opcode.memoize)
        default: return false
        }
        return true
    }

    private mutating func emitInteger(_ value: Int) {
        if value >= 0, value <= 0xFF {
            put(Opcode.binInt1)
            put(UInt8(value))
        } else if value >= 0, value <= 0xFFFF {
            put(Opcode.binInt2)
            putLittleEndian(UInt64(value), width: 2)
        } else if value >= Int(Int32.min), value <= Int(Int32.max) {
            put(Opcode.binInt)
            putLittleEndian(UInt64(UInt32(bitPattern: Int32(value))), width: 4)
        } else {
            emitLong(LongEncoding.encode(value))
        }
    }

    private mutating func emitLong(_ bytes: [UInt8]) {
        if bytes.count < 256 {
            put(Opcode.long1)
            put(UInt8(bytes.count))
        } else {
            put(Opcode.long4)
            putLittleEndian(UInt64(bytes.count), width: 4)
        }
        put(bytes)
    }

    /// A str or bytes payload after its opcode and length. Python writes one of 64 KiB or
    /// more between frames, so a reader can take it without copying.
    private mutating func emitSized(_ payload: [UInt8], opcode: UInt8, lengthWidth: Int) {
        if payload.count >= Self.frameTarget {
            commitFrame()
            out.append(opcode)
            for index in 0..<lengthWidth { out.append(UInt8(truncatingIfNeeded: payload.count >> (8 * index))) }
            out.append(contentsOf: payload)
        } else {
            put(opcode)
            putLittleEndian(UInt64(payload.count), width: lengthWidth)
            put(payload)
        }
    }

    private mutating func emitString(_ utf8: [UInt8]) {
        if utf8.count < 256 {
            emitSized(utf8, opcode: Opcode.shortBinUnicode, lengthWidth: 1)
        } else if utf8.count <= Int(UInt32.max) {
            emitSized(utf8, opcode: Opcode.binUnicode, lengthWidth: 4)
        } else {
            emitSized(utf8, opcode: Opcode.binUnicode8, lengthWidth: 8)
        }
    }

    private mutating func emitBytes(_ bytes: [UInt8]) {
        if bytes.count < 256 {
            emitSized(bytes, opcode: Opcode.shortBinBytes, lengthWidth: 1)
        } else if bytes.count <= Int(UInt32.max) {
            emitSized(bytes, opcode: Opcode.binBytes, lengthWidth: 4)
        } else {
            emitSized(bytes, opcode: Opcode.binBytes8, lengthWidth: 8)
        }
    }

    /// `module name STACK_GLOBAL` with fresh strs, each a `save()` of its own in Python.
    private mutating func emitGlobal(module: String, name: String) {
        boundary()
        emitString(Array(module.utf8))
        memoizeAnonymous()
        boundary()
        emitString(Array(name.utf8))
        memoizeAnonymous()
        put(Opcode.stackGlobal)
    }

    // MARK: Saving nodes

    private func invalid(_ message: String) -> PickleError {
        PickleError(.invalidStructure, message)
    }

    private mutating func save(_ id: PickleNode.ID) throws(PickleError) {
        boundary()
        let memo = slots[id].memo
        if memo >= 0 {
            emitGet(memo)
            return
        }
        let node = nodes[id]
        if slots[id].entered > 0 {
            // Reached again through its own items: Python writes it a second time, and the first
            // writing then ends in a memo GET. A third time means no list, dict, set or object
            // state lies on the cycle, and no pickle can express that.
            guard slots[id].entered == 1 else {
                throw invalid("value \(id) contains itself with no list, dict, set or object state in between")
            }
        }
        if emitLeaf(node) {
            if node.isMemoizedLeaf { slots[id].memo = memoCount - 1 }
            return
        }
        switch node {
        case .none, .bool, .int, .bigInt, .float, .string, .bytes: break  // written by emitLeaf
        case .byteArray(let bytes):
            if protocolVersion >= 5 {
                emitSized(bytes, opcode: Opcode.byteArray8, lengthWidth: 8)
            } else {
                // Protocol 4 has no bytearray opcode: Python writes builtins.bytearray(bytes).
                emitGlobal(module: "builtins", name: "bytearray")
                memoizeAnonymous()
                boundary()
                if bytes.isEmpty {
                    put(Opcode.emptyTuple)
                } else {
                    boundary()
                    emitBytes(bytes)
                    memoizeAnonymous()
                    put(Opcode.tuple1)
                    memoizeAnonymous()
                }
                put(Opcode.reduce)
            }
            memoize(id)
        case .tuple(let items):
            guard !items.isEmpty else {
                put(Opcode.emptyTuple)  // never memoized, as in Python
                return
            }
            slots[id].entered += 1
            if items.count > 3 { put(Opcode.mark) }
            work.append(.finishTuple(id, count: items.count))
            for item in items.reversed() { work.append(.save(item)) }
        case .list(let items):
            put(Opcode.emptyList)
            memoize(id)
            scheduleExact(items, single: Opcode.append, batch: Opcode.appends)
        case .dict(let entries):
            put(Opcode.emptyDict)
            memoize(id)
            scheduleExact(entries)
        case .set(let items):
            put(Opcode.emptySet)
            memoize(id)
            scheduleSetItems(items)
        case .frozenSet(let items):
            slots[id].entered += 1
            put(Opcode.mark)
            work.append(.finishFrozenSet(id))
            for item in items.reversed() { work.append(.save(item)) }
        case .object(let object):
            try saveObject(id, object)
        }
    }

    private mutating func finishTuple(_ id: PickleNode.ID, count: Int) {
        slots[id].entered -= 1
        let memo = slots[id].memo
        if memo >= 0 {
            // Written meanwhile through a cycle: drop the items and fetch that one.
            if count <= 3 {
                for _ in 0..<count { put(Opcode.pop) }
            } else {
                put(Opcode.popMark)
            }
            emitGet(memo)
        } else {
            put(count <= 3 ? Opcode.tuple1 + UInt8(count - 1) : Opcode.tuple)
            memoize(id)
        }
    }

    private mutating func finishFrozenSet(_ id: PickleNode.ID) {
        slots[id].entered -= 1
        let memo = slots[id].memo
        if memo >= 0 {
            put(Opcode.popMark)
            emitGet(memo)
        } else {
            put(Opcode.frozenSet)
            memoize(id)
        }
    }

    private mutating func saveObject(_ id: PickleNode.ID, _ object: PickleObject) throws(PickleError) {
        switch object.constructor {
        case .global(let module, let name):
            emitGlobal(module: module, name: name)
            memoize(id)
            schedule(object.mutations)
        case .stackGlobal(let module, let name):
            guard case .string = nodes[module], case .string = nodes[name] else {
                throw invalid("a STACK_GLOBAL's module and name must be strs")
            }
            work.append(.finishStackGlobal(id))
            work.append(.save(name))
            work.append(.save(module))
        case .extensionCode(let code):
            // Python never memoizes an extension code.
            if code >= 0, code <= 0xFF {
                put(Opcode.ext1)
                put(UInt8(code))
            } else if code >= 0, code <= 0xFFFF {
                put(Opcode.ext2)
                putLittleEndian(UInt64(code), width: 2)
            } else if let code32 = Int32(exactly: code) {
                put(Opcode.ext4)
                putLittleEndian(UInt64(UInt32(bitPattern: code32)), width: 4)
            } else {
                throw invalid("extension code \(code) does not fit in 32 bits")
            }
            // Python never memoizes an extension code, nor mutates one; a pickle that did both
            // (APPENDS onto it, through its own memo) is written with the memo, or the object
            // would contain itself forever.
            if !object.mutations.isEmpty { memoize(id) }
            schedule(object.mutations)
        case .reduce(let callable, let arguments):
            slots[id].entered += 1
            work += [.finishObject(id), .save(arguments), .save(callable)]
        case .newObject(let cls, let arguments):
            slots[id].entered += 1
            work += [.finishObject(id), .save(arguments), .save(cls)]
        case .newObjectEx(let cls, let arguments, let keywords):
            slots[id].entered += 1
            work += [.finishObject(id), .save(keywords), .save(arguments), .save(cls)]
        case .instance(let module, let name, let arguments):
            guard !module.utf8.contains(0x0A), !name.utf8.contains(0x0A) else {
                throw invalid("an INST name can't hold a newline")
            }
            slots[id].entered += 1
            put(Opcode.mark)
            work.append(.finishObject(id))
            for argument in arguments.reversed() { work.append(.save(argument)) }
        case .object(let cls, let arguments):
            slots[id].entered += 1
            put(Opcode.mark)
            work.append(.finishObject(id))
            for argument in arguments.reversed() { work.append(.save(argument)) }
            work.append(.save(cls))
        }
    }

    /// After an object's constructor: memoize it and apply its mutations, or, when a cycle
    /// wrote it meanwhile (mutations included), drop this copy and fetch that one, as Python does.
    private mutating func finishObject(_ id: PickleNode.ID) throws(PickleError) {
        slots[id].entered -= 1
        guard case .object(let object) = nodes[id] else { throw invalid("value \(id) is not an object") }
        switch object.constructor {
        case .reduce: put(Opcode.reduce)
        case .newObject: put(Opcode.newObj)
        case .newObjectEx: put(Opcode.newObjEx)
        case .instance(let module, let name, _):
            put(Opcode.inst)
            put(module.utf8)
            put(0x0A)
            put(name.utf8)
            put(0x0A)
        case .object: put(Opcode.obj)
        case .global, .stackGlobal, .extensionCode: throw invalid("value \(id) has no constructor call")
        }
        let memo = slots[id].memo
        if memo >= 0 {
            put(Opcode.pop)
            emitGet(memo)
        } else {
            memoize(id)
            schedule(object.mutations)
        }
    }

    // MARK: Batches (1000 items per APPENDS / SETITEMS / ADDITEMS, as CPython's C pickler)

    // Work is a stack, so everything below is pushed in reverse.

    /// A list's items: APPEND for a list of one item, else MARK … APPENDS batches, even a last
    /// batch of one (`batch_list_exact`).
    private mutating func scheduleExact(_ items: [PickleNode.ID], single: UInt8, batch: UInt8) {
        guard !items.isEmpty else { return }
        if items.count == 1 {
            work += [.opcode(single), .save(items[0])]
            return
        }
        for start in stride(from: 0, to: items.count, by: Self.batchSize).reversed() {
            work.append(.opcode(batch))
            for item in items[start..<min(start + Self.batchSize, items.count)].reversed() { work.append(.save(item)) }
            work.append(.opcode(Opcode.mark))
        }
    }

    /// A dict's entries: SETITEM for a dict of one entry, else MARK … SETITEMS batches, and
    /// another batch after every full one, so 1000 entries end with an empty MARK SETITEMS
    /// (`batch_dict_exact`).
    private mutating func scheduleExact(_ entries: [DictEntry]) {
        guard !entries.isEmpty else { return }
        if entries.count == 1 {
            work += [.opcode(Opcode.setItem), .save(entries[0].value), .save(entries[0].key)]
            return
        }
        for start in stride(from: 0, through: entries.count, by: Self.batchSize).reversed() {
            work.append(.opcode(Opcode.setItems))
            for entry in entries[start..<min(start + Self.batchSize, entries.count)].reversed() {
                work += [.save(entry.value), .save(entry.key)]
            }
            work.append(.opcode(Opcode.mark))
        }
    }

    /// A set's items: MARK … ADDITEMS batches, another batch after every full one, so a set of
    /// exactly 1000 items ends with an empty MARK ADDITEMS (`save_set`).
    private mutating func scheduleSetItems(_ items: [PickleNode.ID]) {
        guard !items.isEmpty else { return }
        for start in stride(from: 0, through: items.count, by: Self.batchSize).reversed() {
            work.append(.opcode(Opcode.addItems))
            for item in items[start..<min(start + Self.batchSize, items.count)].reversed() { work.append(.save(item)) }
            work.append(.opcode(Opcode.mark))
        }
    }

    /// An object's mutations, each written as the pickle held it: one item or entry as
    /// APPEND/SETITEM, any other count as a MARK batch.
    private mutating func schedule(_ mutations: [PickleObject.Mutation]) {
        for mutation in mutations.reversed() {
            switch mutation {
            case .append(let items):
                if items.count == 1 {
                    work += [.opcode(Opcode.append), .save(items[0])]
                } else {
                    work.append(.opcode(Opcode.appends))
                    for item in items.reversed() { work.append(.save(item)) }
                    work.append(.opcode(Opcode.mark))
                }
            case .setItems(let entries):
                if entries.count == 1 {
                    work += [.opcode(Opcode.setItem), .save(entries[0].value), .save(entries[0].key)]
                } else {
                    work.append(.opcode(Opcode.setItems))
                    for entry in entries.reversed() { work += [.save(entry.value), .save(entry.key)] }
                    work.append(.opcode(Opcode.mark))
                }
            case .addItems(let items):
                work.append(.opcode(Opcode.addItems))
                for item in items.reversed() { work.append(.save(item)) }
                work.append(.opcode(Opcode.mark))
            case .build(let state):
                work += [.opcode(Opcode.build), .save(state)]
            }
        }
    }
}

extension PickleNode {
    /// A str or bytes: written by `emitLeaf`, and memoized.
    fileprivate var isMemoizedLeaf: Bool {
        switch self {
        case .string, .bytes: return true
        default: return false
        }
    }
}

extension PickleGraph {
    /// This value as a protocol 4 pickle, what `pickle.dumps(value, 4)` writes (see ``PickleWriter``).
    public func pickled() throws(PickleError) -> [UInt8] {
        try PickleWriter.write(self)
    }
}
