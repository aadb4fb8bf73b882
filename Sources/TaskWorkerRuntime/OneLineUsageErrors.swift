import ArgumentParser
import Foundation

extension AsyncParsableCommand {
    /// Parses the command line and runs the command, as `main()` does, but says any error in
    /// one line on stderr: `task-ctl: missing expected argument '--count <count>'; see
    /// 'task-ctl batch --help'`, not ArgumentParser's block of error, usage and help. Help
    /// requests and `ExitCode`s are handled as `main()` handles them.
    public static func mainWithOneLineErrors() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            guard code != .success, !(error is ExitCode) else { exit(withError: error) }
            FileHandle.standardError.write(Data((oneLineMessage(for: error) + "\n").utf8))
            exit(withError: ExitCode(code.rawValue))
        }
    }

    /// `<program>: <what is wrong>; see '<command> --help'`.
    static func oneLineMessage(for error: any Error) -> String {
        let program = configuration.commandName ?? "\(Self.self)"
        let full = fullMessage(for: error)
        var message = message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
        if let first = message.first, first.isUppercase, message.dropFirst().first?.isLowercase == true {
            message = first.lowercased() + message.dropFirst()
        }
        // ArgumentParser names the (sub)command whose help to read: "See 'task-ctl batch --help' …".
        var line = "\(program): \(message)"
        if let see = full.range(of: "See '"), let end = full[see.upperBound...].firstIndex(of: "'") {
            let help = full[see.upperBound..<end]
            if line.hasSuffix("?") {
                line += " See '\(help)'."
            } else {
                if line.hasSuffix(".") { line.removeLast() }
                line += "; see '\(help)'"
            }
        }
        return line
    }
}
