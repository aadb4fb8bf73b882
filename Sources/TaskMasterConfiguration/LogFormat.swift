/// How the executables write their log lines to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's stream format: `2026-11-29T06:40:00+0000 info task-master: key=value message`.
    case human
    /// One JSON object per line (`ts`, `level`, `label`, `message`, then the metadata keys), for
    /// journald, Loki, Elasticsearch and `jq`.
    case json
}
