import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TaskMasterStatus

/// A complete response: status, headers and the whole body (`Content-Length` is added when it
/// is sent).
struct AdminResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer

    static func text(_ status: HTTPResponseStatus, _ text: String, headers: HTTPHeaders = [:]) -> AdminResponse {
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: "text/plain; charset=utf-8")
        headers.replaceOrAdd(name: "cache-control", value: "no-store")
        headers.replaceOrAdd(name: "x-content-type-options", value: "nosniff")
        return AdminResponse(status: status, headers: headers, body: ByteBuffer(string: text))
    }
}

/// What the admin endpoint answers, by method and path; no I/O.
struct AdminRoutes: Sendable {
    private enum Route: String {
        case page = "/"
        case metrics = "/metrics"
        case stats = "/api/stats"
    }

    /// The page may only talk to its own origin and load nothing from anywhere: the browser
    /// enforces what `StatusPage` promises.
    static let pagePolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        + "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        + "frame-ancestors 'none'"

    let source: any StatusSource
    let metrics: AdminMetrics
    private let page = ByteBuffer(string: StatusPage.html)

    func respond(method: HTTPMethod, uri: String) async -> AdminResponse {
        // The query string plays no part in routing (the page may add cache busters).
        let path = uri.prefix { $0 != "?" && $0 != "#" }
        guard let route = Route(rawValue: String(path)) else {
            return .text(.notFound, "not found: \(path)\n")
        }
        guard method == .GET || method == .HEAD else {
            return .text(.methodNotAllowed, "method not allowed; use GET\n", headers: ["allow": "GET, HEAD"])
        }
        switch route {
        case .page:
            return AdminResponse(
                status: .ok,
                headers: [
                    "content-type": "text/html; charset=utf-8",
                    "cache-control": "no-cache",
                    "content-security-policy": Self.pagePolicy,
                    "x-content-type-options": "nosniff",
                    "referrer-policy": "no-referrer",
                ],
                body: page
            )
        case .metrics:
            // Rendered on a thread pool: never on the event loops that serve the clients.
            let snapshot = await source.statusSnapshot()
            let metrics = self.metrics
            guard let bytes = try? await NIOThreadPool.singleton.runIfActive({ metrics.render(snapshot) }) else {
                return .text(.serviceUnavailable, "the master is stopping\n")
            }
            return AdminResponse(
                status: .ok,
                headers: ["content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store"],
                body: ByteBuffer(bytes: bytes)
            )
        case .stats:
            do {
                let snapshot = await source.statusSnapshot()
                let json = try await NIOThreadPool.singleton.runIfActive { try snapshot.json() }
                return AdminResponse(
                    status: .ok,
                    headers: ["content-type": "application/json", "cache-control": "no-store"],
                    body: ByteBuffer(bytes: json)
                )
            } catch {
                // Only non-finite numbers can fail to encode.
                return .text(.internalServerError, "can't encode the status as JSON: \(error)\n")
            }
        }
    }
}
