import BigInt

/// Writes a ``PickleGraph`` as a protocol 4 (or 5) pickle.
///
/// For ordinary values the output is byte for byte what CPython's `pickle.dumps(value, 4)`
/// writes: the same opcodes, MEMOIZE after every string, bytes, non-empty tuple, list, dict,
/// set and object, and the same FRAMEs. Shared references and cycles become memo GETs.
/// Iterative: deep values can't overflow the call stack.
public struct PickleWriter {
    private enum Work {
        case save(PickleNode.ID)
        case opcode(UInt8)
        case memoize(PickleNode.ID)
        case finishTuple(PickleNode.ID, count: Int)
        case finishFrozenSet(PickleNode.ID)
        case done(PickleNode.ID)
    }

    private let graph: PickleGraph
    private let protocolVersion: UInt8
    private var output: [UInt8] = []
    private var frame: [UInt8] = []
    private var memo: [PickleNode.ID: Int] = [:]
    private var memoCount = 0
    /// Tuples, frozensets and objects whose items are being written, with how many times.
    private var inProgress: [PickleNode.ID: Int] = [:]
    private var work: [Work] = []

    static let frameTarget = 64 * 1024
    static let batchSize = 1000

    /// The pickle of `graph`.
    ///
    /// - Parameter protocolVersion: 4 (default, readable by Python 3.4+) or 5.
    /// - Throws: `invalidStructure` for a hand-built graph no pickle can express, such as a
    ///   tuple that contains itself directly.
    public static func write(_ graph: PickleGraph, protocolVersion: Int = 4) throws(PickleError) -> [UInt8] {
        precondition(protocolVersion == 4 || protocolVersion == 5, "protocol 4 or 5")
        var writer = PickleWriter(graph: graph, protocolVersion: UInt8(protocolVersion))
        return try writer.run()
    }

    private init(graph: PickleGraph, protocolVersion: UInt8) {
        self.graph = graph
        self.protocolVersion = protocolVersion
    }

    private mutating func run() throws(PickleError) -> [UInt8] {
        output.reserveCapacity(32)
        output.append(Opcode.proto)
        output.append(protocolVersion)
        work.append(.save(graph.root))
        while let item = work.popLast() {
            switch item {
            case .save(let id):
                if frame.count >= Self.frameTarget { commitFrame() }
                try save(id)
            case .opcode(let opcode):
                frame.append(opcode)
            case .memoize(let id):
                memoize(id)
            case .finishTuple(let id, let count):
                leave(id)
                if let index = memo[id] {
                    // The tuple was reached through its own items (via a list): drop the items
                    // and refer to the memoized copy, as Python does.
                    if count <= 3 {
                        frame += Array(repeating: Opcode.pop, count: count)
                    } else {
                        frame.append(Opcode.popMark)
                    }
                    emitGet(index)
                } else {
                    frame.append(count <= 3 ? Opcode.tuple1 + UInt8(count - 1) : Opcode.tuple)
                    memoize(id)
                }
            case .finishFrozenSet(let id):
                leave(id)
                if let index = memo[id] {
                    frame.append(Opcode.popMark)
                    emitGet(index)
                } else {
                    frame.append(Opcode.frozenSet)
                    memoize(id)
                }
            case .done(let id):
                leave(id)
            }
        }
        frame.append(Opcode.stop)
        commitFrame()
        return output
    }

    private mutating func leave(_ id: PickleNode.ID) {
        let depth = inProgress[id, default: 1] - 1
        inProgress[id] = depth > 0 ? depth : nil
    }

    // MARK: Framing and memo

    private mutating func commitFrame() {
        if frame.count >= 4 {
            output.append(Opcode.frame)
            appendLittleEndian(UInt64(frame.count), width: 8, to: &output)
        }
        output += frame
        frame.removeAll(keepingCapacity: true)
    }

    private func appendLittleEndian(_ value: UInt64, width: Int, to buffer: inout [UInt8]) {
        for shift in 0..<width { buffer.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(shift)))) }
    }

    private mutating func memoize(_ id: PickleNode.ID) {
        memo[id] = memoCount
        memoCount += 1
        frame.append(Opcode.memoize)
    }

    /// Memoizes a value that has no node of its own (a synthesized string or global).
    private mutating func memoizeAnonymous() {
        memoCount += 1
        frame.append(Opcode.memoize)
    }

    private mutating func emitGet(_ index: Int) {
        if index < 256 {
            frame.append(Opcode.binGet)
            frame.append(UInt8(index))
        } else {
            frame.append(Opcode.longBinGet)
            appendLittleEndian(UInt64(index), width: 4, to: &frame)
        }
    }

    /// A string or bytes payload with its opcode; large ones go between frames, as Python does.
    private mutating func emitSized(_ payload: [UInt8], short: UInt8?, medium: UInt8, large: UInt8) {
        var header: [UInt8] = []
        if let short, payload.count < 256 {
            header = [short, UInt8(payload.count)]
        } else if payload.count <= Int(UInt32.max) {
            header = [medium]
            appendLittleEndian(UInt64(payload.count), width: 4, to: &header)
        } else {
            header = [large]
            appendLittleEndian(UInt64(payload.count), width: 8, to: &header)
        }
        if payload.count >= Self.frameTarget {
            commitFrame()
            output += header
            output += payload
        } else {
            frame += header
            frame += payload
        }
    }

    private mutating func emitString(_ utf8: [UInt8]) {
        emitSized(utf8, short: Opcode.shortBinUnicode, medium: Opcode.binUnicode, large: Opcode.binUnicode8)
    }

    private mutating func emitInteger(_ value: Int) {
        if value >= 0, value <= 0xFF {
            frame += [Opcode.binInt1, UInt8(value)]
        } else if value >= 0, value <= 0xFFFF {
            frame += [Opcode.binInt2, UInt8(value & 0xFF), UInt8(value >> 8)]
        } else if value >= Int(Int32.min), value <= Int(Int32.max) {
            frame.append(Opcode.binInt)
            appendLittleEndian(UInt64(UInt32(bitPattern: Int32(value))), width: 4, to: &frame)
        } else {
            emitLong(LongEncoding.encode(value))
        }
    }

    private mutating func emitLong(_ bytes: [UInt8]) {
        if bytes.count < 256 {
            frame += [Opcode.long1, UInt8(bytes.count)]
        } else {
            frame.append(Opcode.long4)
            appendLittleEndian(UInt64(bytes.count), width: 4, to: &frame)
        }
        frame += bytes
    }

    /// `module name STACK_GLOBAL MEMOIZE` for a global with no node of its own.
    private mutating func emitGlobal(module: String, name: String) {
        emitString(Array(module.utf8))
        memoizeAnonymous()
        emitString(Array(name.utf8))
        memoizeAnonymous()
        frame.append(Opcode.stackGlobal)
        memoizeAnonymous()
    }

    // MARK: Saving nodes

    private mutating func save(_ id: PickleNode.ID) throws(PickleError) {
        if let index = memo[id] {
            emitGet(index)
            return
        }
        if let depth = inProgress[id] {
            // A tuple reached again through a list inside it is written a second time, as
            // Python does; its first writing then ends in a memo GET. A third time means no
            // mutable container is in between: no pickle can express that.
            guard depth == 1, graph[id].isImmutableContainer else {
                throw PickleError(.invalidStructure, "value \(id) contains itself with no list, dict, set or object between")
            }
        }
        switch graph[id] {
        case .none: frame.append(Opcode.none)
        case .bool(let value): frame.append(value ? Opcode.newTrue : Opcode.newFalse)
        case .int(let value): emitInteger(value)
        case .bigInt(let value):
            if let small = Int(exactly: value) { emitInteger(small) } else { emitLong(LongEncoding.encode(value)) }
        case .float(let bits):
            frame.append(Opcode.binFloat)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        case .string(let utf8):
            emitString(utf8)
            memoize(id)
        case .bytes(let bytes):
            emitSized(bytes, short: Opcode.shortBinBytes, medium: Opcode.binBytes, large: Opcode.binBytes8)
            memoize(id)
        case .byteArray(let bytes):
            if protocolVersion >= 5 {
                frame.append(Opcode.byteArray8)
                appendLittleEndian(UInt64(bytes.count), width: 8, to: &frame)
                frame += bytes
            } else {
                // Protocol 4 has no bytearray opcode: Python writes bytearray(bytes) as a reduce.
                emitGlobal(module: "builtins", name: "bytearray")
                if bytes.isEmpty {
                    frame.append(Opcode.emptyTuple)
                } else {
                    emitSized(bytes, short: Opcode.shortBinBytes, medium: Opcode.binBytes, large: Opcode.binBytes8)
                    memoizeAnonymous()
                    frame.append(Opcode.tuple1)
                    memoizeAnonymous()
                }
                frame.append(Opcode.reduce)
            }
            memoize(id)
        case .tuple(let items):
            guard !items.isEmpty else {
                frame.append(Opcode.emptyTuple)
                return
            }
            inProgress[id, default: 0] += 1
            if items.count > 3 { frame.append(Opcode.mark) }
            work.append(.finishTuple(id, count: items.count))
            for item in items.reversed() { work.append(.save(item)) }
        case .list(let items):
            frame.append(Opcode.emptyList)
            memoize(id)
            scheduleBatches(items, single: Opcode.append, many: Opcode.appends, exact: true)
        case .dict(let entries):
            frame.append(Opcode.emptyDict)
            memoize(id)
            scheduleEntries(entries, exact: true)
        case .set(let items):
            frame.append(Opcode.emptySet)
            memoize(id)
            scheduleAddItems(items)
        case .frozenSet(let items):
            inProgress[id, default: 0] += 1
            frame.append(Opcode.mark)
            work.append(.finishFrozenSet(id))
            for item in items.reversed() { work.append(.save(item)) }
        case .object(let object):
            try saveObject(id, object)
        }
    }

    private mutating func saveObject(_ id: PickleNode.ID, _ object: PickleObject) throws(PickleError) {
        // Scheduled in reverse: constructor, memoize, items, dict items, added items, states.
        var tail: [Work] = []
        for state in object.states {
            tail.append(.save(state))
            tail.append(.opcode(Opcode.build))
        }
        var after: [Work] = []
        after += batchWork(object.appendedItems, single: Opcode.append, many: Opcode.appends)
        after += entryWork(object.setItems)
        after += addItemsWork(object.addedItems)
        after += tail
        switch object.constructor {
        case .global(let module, let name):
            emitString(Array(module.utf8))
            memoizeAnonymous()
            emitString(Array(name.utf8))
            memoizeAnonymous()
            frame.append(Opcode.stackGlobal)
            memoize(id)
            work += after.reversed()
        case .extensionCode(let code):
            if code >= 0, code <= 0xFF {
                frame += [Opcode.ext1, UInt8(code)]
            } else if code >= 0, code <= 0xFFFF {
                frame += [Opcode.ext2, UInt8(code & 0xFF), UInt8(code >> 8)]
            } else {
                frame.append(Opcode.ext4)
                appendLittleEndian(UInt64(UInt32(truncatingIfNeeded: code)), width: 4, to: &frame)
            }
            work += after.reversed()
        case .reduce(let callable, let arguments):
            inProgress[id, default: 0] += 1
            work += after.reversed()
            work += [.memoize(id), .done(id), .opcode(Opcode.reduce), .save(arguments), .save(callable)]
        case .newObject(let cls, let arguments):
            inProgress[id, default: 0] += 1
            work += after.reversed()
            work += [.memoize(id), .done(id), .opcode(Opcode.newObj), .save(arguments), .save(cls)]
        case .newObjectEx(let cls, let arguments, let keywords):
            inProgress[id, default: 0] += 1
            work += after.reversed()
            work += [.memoize(id), .done(id), .opcode(Opcode.newObjEx), .save(keywords), .save(arguments), .save(cls)]
        case .instance(let module, let name, let arguments):
            inProgress[id, default: 0] += 1
            work += after.reversed()
            let inst = [Opcode.inst] + Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
            work += [.memoize(id), .done(id)]
            work += inst.reversed().map { .opcode($0) }
            work += arguments.reversed().map { .save($0) }
            frame.append(Opcode.mark)
        case .object(let cls, let arguments):
            inProgress[id, default: 0] += 1
            work += after.reversed()
            work += [.memoize(id), .done(id), .opcode(Opcode.obj)]
            work += arguments.reversed().map { .save($0) }
            work.append(.save(cls))
            frame.append(Opcode.mark)
        }
    }

    // MARK: Batches (1000 items per APPENDS / SETITEMS / ADDITEMS, like Python)

    // An exact list or dict of one item gets APPEND/SETITEM, and otherwise every batch is a
    // MARK … APPENDS, even a last batch of one; items of other objects (an iterator, in
    // Python) get APPEND/SETITEM for any batch of one. That is what CPython's C pickler does.

    private func batchWork(_ items: [PickleNode.ID], single: UInt8, many: UInt8, exact: Bool = false) -> [Work] {
        var out: [Work] = []
        var start = 0
        while start < items.count {
            let batch = items[start..<min(start + Self.batchSize, items.count)]
            if batch.count == 1, !exact || items.count == 1 {
                out += [.save(batch[batch.startIndex]), .opcode(single)]
            } else {
                out.append(.opcode(Opcode.mark))
                out += batch.map { .save($0) }
                out.append(.opcode(many))
            }
            start += Self.batchSize
        }
        return out
    }

    private func entryWork(_ entries: [DictEntry], exact: Bool = false) -> [Work] {
        var out: [Work] = []
        var start = 0
        while start < entries.count {
            let batch = entries[start..<min(start + Self.batchSize, entries.count)]
            if batch.count == 1, !exact || entries.count == 1 {
                let entry = batch[batch.startIndex]
                out += [.save(entry.key), .save(entry.value), .opcode(Opcode.setItem)]
            } else {
                out.append(.opcode(Opcode.mark))
                for entry in batch { out += [.save(entry.key), .save(entry.value)] }
                out.append(.opcode(Opcode.setItems))
            }
            start += Self.batchSize
        }
        return out
    }

    private func addItemsWork(_ items: [PickleNode.ID]) -> [Work] {
        var out: [Work] = []
        var start = 0
        while start < items.count {
            let batch = items[start..<min(start + Self.batchSize, items.count)]
            out.append(.opcode(Opcode.mark))
            out += batch.map { .save($0) }
            out.append(.opcode(Opcode.addItems))
            start += Self.batchSize
        }
        return out
    }

    private mutating func scheduleBatches(_ items: [PickleNode.ID], single: UInt8, many: UInt8, exact: Bool) {
        work += batchWork(items, single: single, many: many, exact: exact).reversed()
    }

    private mutating func scheduleEntries(_ entries: [DictEntry], exact: Bool) {
        work += entryWork(entries, exact: exact).reversed()
    }

    private mutating func scheduleAddItems(_ items: [PickleNode.ID]) {
        work += addItemsWork(items).reversed()
    }
}

extension PickleGraph {
    /// This value as a protocol 4 pickle (see ``PickleWriter``).
    public func pickled() throws(PickleError) -> [UInt8] {
        try PickleWriter.write(self)
    }
}

extension PickleNode {
    var isImmutableContainer: Bool {
        switch self {
        case .tuple, .frozenSet: return true
        default: return false
        }
    }
}
