/// The functions a manager server offers on a connection's first request (`ident` None):
/// `Server.public` in CPython's `multiprocessing/managers.py`.
public enum ServerFunction: String, Hashable, Sendable, CaseIterable {
    case shutdown
    case create
    case acceptConnection = "accept_connection"
    case getMethods = "get_methods"
    case debugInfo = "debug_info"
    case numberOfObjects = "number_of_objects"
    case dummy
    case incref
    case decref
}
