import FuzzSupport
import ManagerWire
import Pickle

// Fuzzes the Python manager envelope (Sources/ManagerWire, docs/PYTHON.md): the input is one
// frame payload, a pickle, read as a request (`ManagerRequest(decoding:)`) and as a reply
// (`ManagerReply(decoding:)`); a request that reads is then checked as a queue call
// (`QueueCall.parse`), as the master's Python sessions do.
//
// Checks, besides never trapping or hanging (a thrown `ManagerError`, `PickleError` or
// `QueueCall.Failure` is fine):
// - a request or reply that reads, encoded again (what the master sends, or what its Python
//   client library sends), reads back: the same ident, method, argument count and keyword names,
//   the same kind of reply; and encoding that gives the same bytes again. (The bytes are compared,
//   not the graphs: a graph read from an older protocol holds GLOBAL where the protocol 4
//   encoding has STACK_GLOBAL and its two strs, an equal value in another form.)
// - `QueueCall.parse` and the exception helpers (`PythonException`) take any request or `#ERROR`
//   value without trapping.

private func checkRequest(_ bytes: [UInt8]) {
    let request: ManagerRequest
    do {
        request = try ManagerRequest(decoding: bytes)
    } catch {
        trace("request: \(error.code): \(error.message)")
        return
    }
    trace(
        "request: \(request.ident ?? "None").\(request.method)"
            + "(\(request.arguments.count) args, \(request.keywords.count) keywords)"
    )
    _ = ServerFunction(rawValue: request.method)
    _ = request.keyword("timeout")
    do {
        let call = try QueueCall.parse(request)
        trace("  queue call: \(call.map { "\($0)" } ?? "not a queue method")")
    } catch {
        trace("  queue call refused: \(error.description)")
        _ = PythonException.className(of: error.exception)
    }
    guard let encoded = try? request.encoded() else { return }
    let again: ManagerRequest
    do {
        again = try ManagerRequest(decoding: encoded)
    } catch {
        require(false, "request \(request) encodes as \(hex(encoded)), which does not read: \(error)")
        return
    }
    require(
        again.ident == request.ident && again.method == request.method
            && again.arguments.count == request.arguments.count
            && again.keywords.map(\.name) == request.keywords.map(\.name),
        "request \(request) encodes as \(hex(encoded)), which reads as \(again)"
    )
    let reencoded = Result { () throws(PickleError) in try again.encoded() }
    require(
        reencoded == .success(encoded),
        "request \(request) encodes as \(hex(encoded)); read and encoded again it is \(reencoded)"
    )
}

extension ManagerReply {
    /// The reply's kind, with the text of the kinds that carry text.
    fileprivate var kindAndText: String {
        switch self {
        case .returned: return "#RETURN"
        case .error: return "#ERROR"
        case .traceback(let text): return "#TRACEBACK \(text)"
        case .unserializable(let text): return "#UNSERIALIZABLE \(text)"
        case .other(let kind, _): return kind
        }
    }
}

private func checkReply(_ bytes: [UInt8]) {
    let reply: ManagerReply
    do {
        reply = try ManagerReply(decoding: bytes)
    } catch {
        trace("reply: \(error.code): \(error.message)")
        return
    }
    trace("reply: \(reply)")
    if case .error(let exception) = reply {
        _ = PythonException.isEmpty(exception)
        _ = PythonException.className(of: exception)
    }
    guard let encoded = try? reply.encoded() else { return }
    let again: ManagerReply
    do {
        again = try ManagerReply(decoding: encoded)
    } catch {
        require(false, "reply \(reply) encodes as \(hex(encoded)), which does not read: \(error)")
        return
    }
    require(
        again.kindAndText == reply.kindAndText,
        "reply \(reply) encodes as \(hex(encoded)), which reads as \(again)"
    )
    let reencoded = Result { () throws(PickleError) in try again.encoded() }
    require(
        reencoded == .success(encoded),
        "reply \(reply) encodes as \(hex(encoded)); read and encoded again it is \(reencoded)"
    )
}

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManagerWire(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = inputBytes(data, size)
    checkRequest(bytes)
    checkReply(bytes)
    return 0
}

/// The process entry point under SwiftPM (see `runLibFuzzer`).
@_cdecl("FuzzManagerWire_main")
public func fuzzManagerWireMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc: argc, argv: argv, fuzzManagerWire)
}
