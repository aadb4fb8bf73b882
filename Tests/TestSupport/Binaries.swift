import Foundation

/// The project's built executables (`task-master`, `task-worker`, `task-ctl`).
public enum Binaries {
    /// The build products folder: `TASKMASTER_BIN_DIR` if set, else the folder of the
    /// running test bundle (`swift test` puts the executables beside it).
    public static let directory: URL = {
        if let dir = ProcessInfo.processInfo.environment["TASKMASTER_BIN_DIR"] {
            return URL(fileURLWithPath: dir)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // .../debug/TaskMasterPackageTests.xctest (a file on Linux, a bundle elsewhere)
        while !url.path.isEmpty, url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("task-master").path) {
                return url
            }
        }
        return Fixtures.repositoryRoot.appendingPathComponent(".build/debug")
    }()

    public static var master: URL { directory.appendingPathComponent("task-master") }
    public static var worker: URL { directory.appendingPathComponent("task-worker") }
    public static var ctl: URL { directory.appendingPathComponent("task-ctl") }
    /// The example worker of docs/WORKERS.md (`Examples/WordCountWorker`).
    public static var wordCountWorker: URL { directory.appendingPathComponent("word-count-worker") }
}
