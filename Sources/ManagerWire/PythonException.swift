import Pickle

/// Python exceptions as a manager server sends them, so the client raises the same one.
public enum PythonException {
    /// `queue.Empty`, pickled as Python 3.7+ does (`_queue.Empty`, byte-identical to a 3.11–3.13
    /// server's reply).
    public static var empty: PickleGraph { .exception(module: "_queue", name: "Empty", arguments: []) }

    /// `queue.Full`.
    public static var full: PickleGraph { .exception(module: "queue", name: "Full", arguments: []) }

    /// A builtin exception such as `ValueError(message)`.
    public static func builtin(_ name: String, _ message: String) -> PickleGraph {
        .exception(module: "builtins", name: name, arguments: [.string(message)])
    }

    /// The text of a `#TRACEBACK` reply: what `traceback.format_exc()` would end with.
    public static func traceback(_ type: String, _ message: String) -> String {
        "Traceback (most recent call last):\n  File \"task-master\", in serve_client\n\(type): \(message)\n"
    }

    /// Python's `repr()` of a str, for messages such as `KeyError: 'ffff'`.
    public static func repr(_ text: String) -> String {
        var out = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "'": out += "\\'"
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "'"
    }

    /// The `(module, name)` of an exception graph's class, e.g. `("_queue", "Empty")`.
    public static func className(of exception: PickleGraph) -> (module: String, name: String)? {
        exception.constructorName(of: exception.root)
    }

    /// Whether an `#ERROR` value is `queue.Empty` (either module name).
    public static func isEmpty(_ exception: PickleGraph) -> Bool {
        guard let (module, name) = className(of: exception) else { return false }
        return name == "Empty" && (module == "_queue" || module == "queue")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
