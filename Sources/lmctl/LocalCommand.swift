import Foundation
import ModelHub

/// Commands that work on the local Hugging Face cache and need no daemon: `pull`, `models`.
enum LocalCommand {
    case pull(String)
    case models

    /// The command, or nil when `name` is a daemon command.
    static func parse(name: String, arguments: [String]) throws -> LocalCommand? {
        var words = ArgumentList(arguments)
        let command: LocalCommand
        switch name {
        case "pull": command = .pull(try words.positional("ID"))
        case "models": command = .models
        default: return nil
        }
        try words.finish()
        return command
    }

    func run(json: Bool) throws {
        switch self {
        case let .pull(id):
            let printer = HubProgressPrinter()
            let model = try ModelHub.pull(id, progress: printer.handler)
            print(model.directory.path)
        case .models:
            let models = try ModelHub.cachedModels()
            if models.isEmpty {
                print("no models in \(ModelHub.cacheDirectory().path)")
                return
            }
            for m in models {
                let state = m.isComplete ? "complete" : "incomplete (missing \(m.missing.joined(separator: ", ")))"
                let refs = m.refs.isEmpty ? "" : " [\(m.refs.joined(separator: ", "))]"
                let size = ByteCountFormatter.string(fromByteCount: m.sizeOnDisk, countStyle: .file)
                print("\(m.id)\(refs)  \(m.commit.prefix(12))  \(size)  \(state)")
            }
        }
    }
}
