import BigInt

extension PickleGraph {
    /// The root as an integer, if it is a Python `int` (not a bool).
    public var integerValue: BigInt? {
        switch rootNode {
        case .int(let value): return BigInt(value)
        case .bigInt(let value): return value
        default: return nil
        }
    }

    /// The root as a Swift string, if it is a Python `str` holding valid Unicode.
    public var stringValue: String? {
        guard case .string(let utf8) = rootNode else { return nil }
        return String(validating: utf8, as: UTF8.self)
    }

    /// The Python type of the root, for messages: `int`, `str`, `list`, … or
    /// `module.qualname` for objects (e.g. `decimal.Decimal`).
    public var typeName: String { typeName(of: root) }

    /// The Python type of a node, as ``typeName``.
    public func typeName(of id: PickleNode.ID) -> String {
        switch nodes[id] {
        case .none: return "NoneType"
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
        case .object(let object):
            switch object.constructor {
            case .global(let module, let name): return "\(module).\(name) (a class or function)"
            case .instance(let module, let name, _): return "\(module).\(name)"
            case .reduce(let callable, _), .newObject(let callable, _), .newObjectEx(let callable, _, _),
                .object(let callable, _):
                if case .object(let inner) = nodes[callable], case .global(let module, let name) = inner.constructor {
                    return module == "builtins" ? name : "\(module).\(name)"
                }
                return "object"
            case .extensionCode(let code): return "extension object \(code)"
            }
        }
    }
}
