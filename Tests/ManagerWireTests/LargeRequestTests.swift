import ManagerWire
import Pickle
import Testing

/// Requests with very many arguments: encoding them and cutting them apart must cost time in
/// proportion to their size. (A fuzzer found a request of 48,000 arguments that took seconds:
/// each argument copied bookkeeping, or the arena, for the whole envelope.)
@Suite struct LargeRequestTests {
    @Test func aRequestWithFiftyThousandArgumentsDecodesQuicklyAndExactly() throws {
        let count = 50_000
        let arguments = (0..<count).map { $0 % 3 == 0 ? PickleGraph.tuple([.int($0), .string("x")]) : .int($0) }
        let request = ManagerRequest(ident: "7f00", method: "put", arguments: arguments)
        let started = ContinuousClock.now
        let bytes = try request.encoded()
        let decoded = try ManagerRequest(decoding: bytes)
        let elapsed = ContinuousClock.now - started
        #expect(decoded.arguments.count == count)
        // Compared as values (the arenas differ in node order); one Bool, not 50,000 values.
        let same = zip(decoded.arguments, arguments).allSatisfy { (try? $0.value) == (try? $1.value) }
        #expect(same, "an argument came back changed")
        // Linear: under a second in a debug build. The quadratic forms took over a minute.
        #expect(elapsed < .seconds(10), "encoding and decoding took \(elapsed)")
    }
}
