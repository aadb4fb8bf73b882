import FuzzSupport
import Pickle

// Fuzzes the data-only pickle reader and writer (Sources/Pickle): the input is one pickle.
//
// Checks, besides never trapping or hanging (a thrown `PickleError` is fine):
// - tighter `PickleLimits` only add errors: a pickle read under them reads the same under the
//   defaults, and one the defaults refuse is refused under them too;
// - a graph that was read can be inspected (type name, integer and string views, subgraphs) and
//   turned into a `PickleValue` and pickled again without trapping;
// - when `pickled()` of a graph that was read succeeds, the reader reads its output, and writing
//   that again gives the same bytes (the writer's output is a fixed point of read + write).

private let tightLimits = PickleLimits(
    maxInputBytes: 1024,
    maxDepth: 16,
    maxNodes: 256,
    maxMemoEntries: 64,
    maxIntegerBytes: 16
)

private func inspect(_ graph: PickleGraph) {
    _ = graph.typeName
    _ = graph.integerValue
    _ = graph.stringValue
    _ = graph.intValue
    // Cut out the first few values, as ManagerWire does with a request's parts.
    for id in graph.nodes.indices.prefix(8) {
        let part = graph.subgraph(at: id)
        _ = part.typeName
        _ = graph.constructorName(of: id)
        _ = graph.elements(of: id)
    }
    if let value = try? graph.value(limits: PickleLimits(maxNodes: 10_000)) {
        _ = value.typeName
        if let bytes = try? value.pickled() {
            require((try? PickleReader.read(bytes)) != nil, "PickleValue.pickled() wrote \(hex(bytes)), unreadable")
        }
    }
}

private func fuzzOne(_ bytes: [UInt8]) {
    let read = Result { () throws(PickleError) in try PickleReader.read(bytes) }
    let tight = Result { () throws(PickleError) in try PickleReader.read(bytes, limits: tightLimits) }
    if case .success(let graph) = tight {
        require(read == .success(graph), "read under tight limits but not the same under the defaults: \(read)")
    }
    guard case .success(let graph) = read else {
        if case .failure(let error) = read { trace("\(error)") }
        return
    }
    trace("\(graph.typeName): \(graph.nodes.count) nodes")
    inspect(graph)

    let written: [UInt8]
    do {
        written = try graph.pickled()
    } catch {
        trace("not written: \(error)")
        return
    }
    let reread: PickleGraph
    do {
        reread = try PickleReader.read(written)
    } catch {
        require(false, "the writer wrote \(hex(written)), which the reader refuses: \(error)")
        return
    }
    let rewritten = Result { () throws(PickleError) in try reread.pickled() }
    require(
        rewritten == .success(written),
        "the writer wrote \(hex(written)); read and written again it is \(rewritten)"
    )
}

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(inputBytes(data, size))
    return 0
}

/// The process entry point under SwiftPM (see `runLibFuzzer`).
@_cdecl("FuzzPickle_main")
public func fuzzPickleMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc: argc, argv: argv, fuzzPickle)
}
