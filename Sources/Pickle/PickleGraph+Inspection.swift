import BigInt

extension PickleGraph {
    /// The root as an integer, if it is a Python `int` (not a bool).
    public var integerValue: BigInt? { integerValue(of: root) }

    /// The root as an `Int`, if it is a Python `int` (not a bool) that fits in 64 bits.
    public var intValue: Int? {
        if case .int(let value) = rootNode { return value }
        return nil
    }

    /// The root as a Swift string, if it is a Python `str` holding valid Unicode.
    public var stringValue: String? { stringValue(of: root) }

    /// The Python type of the root, for messages: `int`, `str`, `list`, `NoneType`, … or
    /// `module.qualname` for objects (`decimal.Decimal`; builtins without a module, `ValueError`).
    public var typeName: String { typeName(of: root) }

    /// The node `id` as an integer, if it is a Python `int` (not a bool).
    public func integerValue(of id: PickleNode.ID) -> BigInt? {
        switch nodes[id] {
        case .int(let value): return BigInt(value)
        case .bigInt(let value): return value
        default: return nil
        }
    }

    /// The node `id` as a Swift string, if it is a Python `str` holding valid Unicode (not a
    /// lone surrogate).
    public func stringValue(of id: PickleNode.ID) -> String? {
        guard case .string(let utf8) = nodes[id] else { return nil }
        return String(validating: utf8, as: UTF8.self)
    }

    /// The elements of node `id`, if it is a tuple or a list.
    public func elements(of id: PickleNode.ID) -> [PickleNode.ID]? {
        switch nodes[id] {
        case .tuple(let ids), .list(let ids): return ids
        default: return nil
        }
    }

    /// The module and name of node `id`, if it is a global (a class or function reference).
    public func globalName(of id: PickleNode.ID) -> (module: String, name: String)? {
        guard case .object(let object) = nodes[id] else { return nil }
        switch object.constructor {
        case .global(let module, let name): return (module, name)
        case .stackGlobal(let module, let name):
            guard let module = stringValue(of: module), let name = stringValue(of: name) else { return nil }
            return (module, name)
        default: return nil
        }
    }

    /// The class or function that builds node `id`, if it is an object made by a call
    /// (REDUCE, NEWOBJ, INST, OBJ), looking through `copyreg`'s helpers as Python does.
    public func constructorName(of id: PickleNode.ID) -> (module: String, name: String)? {
        guard case .object(let object) = nodes[id] else { return nil }
        switch object.constructor {
        case .instance(let module, let name, _): return (module, name)
        case .newObject(let cls, _), .newObjectEx(let cls, _, _), .object(let cls, _): return globalName(of: cls)
        case .reduce(let callable, let arguments):
            guard let callee = globalName(of: callable) else { return nil }
            // Protocols 0 and 1 build instances through copyreg; the class is the first argument.
            if callee.module == "copyreg",
                ["_reconstructor", "__newobj__", "__newobj_ex__"].contains(callee.name),
                let first = elements(of: arguments)?.first, let cls = globalName(of: first)
            {
                return cls
            }
            return callee
        case .global, .stackGlobal, .extensionCode: return nil
        }
    }

    /// The Python type of a node, as ``typeName``.
    public func typeName(of id: PickleNode.ID) -> String {
        switch nodes[id] {
        case .none: return "NoneType"
        case .object(let object):
            if let (module, name) = globalName(of: id) { return "\(module).\(name) (a class or function)" }
            if case .extensionCode(let code) = object.constructor { return "extension object \(code)" }
            guard let (module, name) = constructorName(of: id) else { return "object" }
            return module == "builtins" ? name : "\(module).\(name)"
        default: return nodes[id].kindName
        }
    }
}
