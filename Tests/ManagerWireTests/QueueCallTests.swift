import ManagerWire
import Pickle
import Testing

@Suite struct QueueCallTests {
    private func call(
        _ method: String,
        _ arguments: [PickleGraph] = [],
        _ keywords: [(String, PickleGraph)] = []
    )
        throws(QueueCall.Failure) -> QueueCall?
    {
        try QueueCall.parse(
            ManagerRequest(
                ident: "7f0000000040",
                method: method,
                arguments: arguments,
                keywords: keywords.map { ManagerRequest.Keyword($0.0, $0.1) }
            )
        )
    }

    private func failure(
        _ method: String,
        _ arguments: [PickleGraph] = [],
        _ keywords: [(String, PickleGraph)] = []
    )
        -> String?
    {
        do {
            _ = try call(method, arguments, keywords)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func signaturesBindAsPythonBindsThem() throws {
        #expect(try call("get") == .get(.forever))
        #expect(try call("get", [], [("timeout", .int(1))]) == .get(.seconds(1)))
        #expect(
            try call("get", [PickleGraph(node: .bool(true)), PickleGraph(node: .float(2.5))]) == .get(.seconds(2.5))
        )
        #expect(try call("get", [PickleGraph(node: .bool(false))]) == .get(.noWait))
        #expect(try call("get", [], [("block", .none)]) == .get(.noWait))
        #expect(try call("get_nowait") == .get(.noWait))
        #expect(try call("put", [.int(5)]) == .put(.int(5), .forever))
        #expect(try call("put", [.int(5)], [("block", PickleGraph(node: .bool(false)))]) == .put(.int(5), .noWait))
        #expect(try call("put", [.int(5), PickleGraph(node: .bool(true)), .int(3)]) == .put(.int(5), .seconds(3)))
        #expect(try call("put_nowait", [.string("x")]) == .put(.string("x"), .noWait))
        #expect(try call("qsize") == .qsize)
        #expect(try call("task_done") == .taskDone)
        #expect(try call("__repr__") == .repr)
        #expect(try call("frobnicate") == nil)
    }

    @Test func badCallsFailWithPythonsMessages() {
        #expect(failure("put") == "TypeError: Queue.put() missing 1 required positional argument: 'item'")
        #expect(
            failure("get", [.int(1), .int(2), .int(3)])
                == "TypeError: Queue.get() takes from 1 to 3 positional arguments but 4 were given"
        )
        #expect(
            failure("get_nowait", [.int(1)])
                == "TypeError: Queue.get_nowait() takes 1 positional argument but 2 were given"
        )
        #expect(
            failure("get", [], [("timeot", .int(1))])
                == "TypeError: Queue.get() got an unexpected keyword argument 'timeot'"
        )
        #expect(
            failure("get", [PickleGraph(node: .bool(true))], [("block", .int(1))])
                == "TypeError: Queue.get() got multiple values for argument 'block'"
        )
        #expect(failure("get", [], [("timeout", .int(-1))]) == "ValueError: 'timeout' must be a non-negative number")
        #expect(failure("get", [], [("timeout", .string("1"))]) != nil)
        // With block=False the timeout is not looked at, as in Python.
        #expect(failure("get", [PickleGraph(node: .bool(false)), .int(-1)]) == nil)
    }

    @Test func exceptionsAreThoseAPythonClientRaises() throws {
        #expect(PythonException.isEmpty(PythonException.empty))
        #expect(PythonException.isEmpty(.exception(module: "queue", name: "Empty", arguments: [])))
        #expect(!PythonException.isEmpty(PythonException.full))
        #expect(PythonException.className(of: PythonException.builtin("KeyError", "x"))! == ("builtins", "KeyError"))
        #expect(PythonException.repr("it's\n") == #"'it\'s\n'"#)
    }

    @Test func requestsAndRepliesRoundTrip() throws {
        let request = ManagerRequest(
            ident: nil,
            method: "create",
            arguments: [.string("get_task_queue")],
            keywords: [.init("x", .int(1))]
        )
        #expect(try ManagerRequest(decoding: request.encoded()) == request)
        for reply: ManagerReply in [
            .returnedNone, .returned(.int(7)), .error(PythonException.empty), .traceback("boom"),
        ] {
            // Graphs compare as arenas, so compare what they write.
            #expect(try ManagerReply(decoding: reply.encoded()).encoded() == reply.encoded())
        }
    }

    @Test func malformedRequestsAreErrors() throws {
        for bad: PickleGraph in [
            .int(1), .tuple([.none, .string("x")]), .tuple([.int(1), .string("x"), .tuple([]), .none]),
        ] {
            #expect(throws: ManagerError.self) { try ManagerRequest(decoding: bad.pickled()) }
        }
        #expect(throws: ManagerError.self) { try ManagerRequest(decoding: [0x80, 0x04, 0xFF]) }
        #expect(throws: ManagerError.self) { try ManagerReply(decoding: PickleGraph.tuple([.int(1)]).pickled()) }
    }
}

@Suite struct ReplyFastPathTests {
    @Test(arguments: [0, 1, 255, 256, 65535, 65536, -1, Int(Int32.min), Int(Int32.max), Int(Int32.max) + 1])
    func directIntegerRepliesEqualTheGeneralWriters(n: Int) throws {
        let general = try PickleGraph.tuple([.string("#RETURN"), .int(n)]).pickled()
        #expect(try ManagerReply.returned(.int(n)).encoded() == general)
    }

    @Test func theDirectNoneReplyEqualsTheGeneralWriters() throws {
        #expect(try ManagerReply.returnedNone.encoded() == PickleGraph.tuple([.string("#RETURN"), .none]).pickled())
    }
}
