import Pickle

/// A request of Python's `multiprocessing.managers` protocol: `(ident, methodname, args, kwds)`.
///
/// `ident` is `None` for the server's own functions (`create`, `incref`, `accept_connection`, …)
/// and an object id for a method call on a proxy connection. Every argument is kept as a
/// standalone ``PickleGraph``, so a value can be stored and written back exactly as sent.
public struct ManagerRequest: Hashable, Sendable {
    /// A keyword argument.
    public struct Keyword: Hashable, Sendable {
        public var name: String
        public var value: PickleGraph

        public init(_ name: String, _ value: PickleGraph) {
            self.name = name
            self.value = value
        }
    }

    /// The object the method is called on, or nil for a server function.
    public var ident: String?
    public var method: String
    public var arguments: [PickleGraph]
    public var keywords: [Keyword]

    public init(ident: String?, method: String, arguments: [PickleGraph] = [], keywords: [Keyword] = []) {
        self.ident = ident
        self.method = method
        self.arguments = arguments
        self.keywords = keywords
    }

    /// The keyword argument called `name`, if given.
    public func keyword(_ name: String) -> PickleGraph? {
        keywords.first { $0.name == name }?.value
    }
}

extension ManagerRequest {
    /// Reads a request frame.
    public init(decoding payload: [UInt8], limits: PickleLimits = PickleLimits()) throws(ManagerError) {
        let graph: PickleGraph
        do {
            graph = try PickleReader.read(payload, limits: limits)
        } catch {
            throw ManagerError(.unreadablePickle, error.description)
        }
        try self.init(graph)
    }

    /// Reads a request from its pickle graph.
    public init(_ graph: PickleGraph) throws(ManagerError) {
        guard let fields = graph.elements(of: graph.root), case .tuple = graph.rootNode, fields.count == 4 else {
            throw ManagerError(
                .malformedRequest,
                "a request must be a 4-tuple (ident, method, args, kwds), not a \(graph.typeName)"
            )
        }
        let ident: String?
        switch graph[fields[0]] {
        case .none: ident = nil
        case .string:
            guard let text = graph.stringValue(of: fields[0]) else {
                throw ManagerError(.malformedRequest, "the object id is not valid text")
            }
            ident = text
        default:
            throw ManagerError(.malformedRequest, "the object id must be a str or None")
        }
        guard let method = graph.stringValue(of: fields[1]) else {
            throw ManagerError(.malformedRequest, "the method name must be a str")
        }
        guard case .tuple(let argumentIDs) = graph[fields[2]] else {
            throw ManagerError(.malformedRequest, "the arguments must be a tuple")
        }
        guard case .dict(let entries) = graph[fields[3]] else {
            throw ManagerError(.malformedRequest, "the keyword arguments must be a dict")
        }
        var names: [String] = []
        for entry in entries {
            guard let name = graph.stringValue(of: entry.key) else {
                throw ManagerError(.malformedRequest, "keyword argument names must be str")
            }
            names.append(name)
        }
        let values = graph.subgraphs(at: entries.map(\.value))
        self.init(
            ident: ident,
            method: method,
            arguments: graph.subgraphs(at: argumentIDs),
            keywords: zip(names, values).map { Keyword($0, $1) }
        )
    }

    /// The request as the pickle a Python client sends.
    public func encoded() throws(PickleError) -> [UInt8] {
        var graph = PickleGraph(node: .none)
        let identID = ident.map { graph.add(.string($0)) } ?? 0
        let methodID = graph.add(.string(method))
        let argumentIDs = arguments.map { graph.embed($0) }
        let argsID = graph.add(.tuple(argumentIDs))
        var entries: [DictEntry] = []
        for keyword in keywords {
            let key = graph.add(.string(keyword.name))
            entries.append(DictEntry(key: key, value: graph.embed(keyword.value)))
        }
        let kwdsID = graph.add(.dict(entries))
        graph.root = graph.add(.tuple([identID, methodID, argsID, kwdsID]))
        return try graph.pickled()
    }
}
