import Foundation
import LMClient
import LMProtocol

/// lmctl: a thin command-line client of lmd. Exit status: 0 ok, 1 error (one sentence), 2 usage.
let usage = """
    usage: lmctl [--socket PATH] [--model MODEL] [--add-prefix-space] [--json] [--no-start] COMMAND [ARGS]

    commands:
      tokenize TEXT                 tokens of TEXT: id, token, byte range
      detokenize ID...              text of token ids
      forward TEXT [--last]         logits of TEXT (every position, or --last only): shape and best token per row
      topk TEXT [K]                 the K (default 10) most likely next tokens: rank, token, probability
      complete TEXT [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]
                    [--stop S]... [--stream]
                                    continue TEXT (--stream prints tokens as they come)
      suggest TEXT [N] [--max-tokens N] [--stop-at word|line|none] [--no-heal]
                                    N (default 5) completions at the end of TEXT, as an editor offers them
      info                          what model lmd serves
      shutdown                      stop lmd
      call METHOD [JSON]            any method with JSON params; prints the result as JSON
      pull ID                       download a Hugging Face model into the local cache (no daemon needed)
      models                        list the models in the local Hugging Face cache

    options:
      --socket PATH   lmd's socket (default: $XDG_RUNTIME_DIR/lmd.sock, else /tmp/lmd-$UID/lmd.sock)
      --model MODEL   model for an lmd started on demand: folder, .gguf file or hub id
                      (default: $LMD_MODEL, else distilgpt2)
      --add-prefix-space
                      tokenize text as if it followed a space (as the notebook's tokenizer did)
      --json          print the raw result JSON
      --no-start      do not start lmd when it is not running
      --help          show this text

    """

/// A failure that ends lmctl with a sentence and an exit status.
struct Failure: Error {
    let message: String
    let status: Int32
    static func usage(_ message: String) -> Failure { Failure(message: message, status: 2) }
}

/// Options that apply to every command.
struct GlobalOptions {
    var socketPath: String?
    var model: String?
    var json = false
    var noStart = false
    var addPrefixSpace = false
}

func parseGlobal(_ arguments: [String]) throws -> (GlobalOptions, [String]) {
    var options = GlobalOptions()
    var rest: [String] = []
    var index = 0
    var optionsEnded = false
    func value(_ name: String) throws -> String {
        index += 1
        guard index < arguments.count else { throw Failure.usage("\(name) needs a value") }
        return arguments[index]
    }
    while index < arguments.count {
        let argument = arguments[index]
        if optionsEnded {
            rest.append(argument)
        } else {
            switch argument {
            case "--socket": options.socketPath = try value(argument)
            case "--model": options.model = try value(argument)
            case "--json": options.json = true
            case "--no-start": options.noStart = true
            case "--add-prefix-space": options.addPrefixSpace = true
            case "--help", "-h": throw Failure(message: "", status: 0)
            case "--": optionsEnded = true; rest.append(argument)
            default: rest.append(argument)
            }
        }
        index += 1
    }
    return (options, rest)
}

func run() throws {
    let (options, rest) = try parseGlobal(Array(CommandLine.arguments.dropFirst()))
    guard let name = rest.first, !name.hasPrefix("-") || name == "--" else {
        throw Failure.usage(rest.first.map { "unknown option \($0)" } ?? "a command is needed")
    }
    if let local = try LocalCommand.parse(name: name, arguments: Array(rest.dropFirst())) {
        return try local.run(json: options.json)
    }
    let command = try Command.parse(name: name, arguments: Array(rest.dropFirst()))
    let socketPath = SocketPath.resolve(options.socketPath)
    let client = try connect(socketPath: socketPath, options: options, mayStart: command.startsDaemon)
    defer { client.close() }
    try command.run(client: client, json: options.json, addPrefixSpace: options.addPrefixSpace)
}

/// Connects, starting lmd first when nobody listens (unless --no-start, or the command would be pointless).
func connect(socketPath: String, options: GlobalOptions, mayStart: Bool) throws -> LMClient {
    do {
        return try LMClient(socketPath: socketPath)
    } catch LMClientError.notRunning(let path) where mayStart && !options.noStart {
        let environment = ProcessInfo.processInfo.environment["LMD_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
        let model = options.model ?? environment ?? "distilgpt2"
        guard let daemon = DaemonLauncher.findDaemon() else {
            throw Failure(message: "lmd is not running and no lmd executable was found next to lmctl or on PATH", status: 1)
        }
        note("lmd is not running; starting \(daemon) with model \(model) on \(path)")
        try DaemonLauncher.start(daemonPath: daemon, model: model, socketPath: path)
        note("lmd is ready")
        return try LMClient(socketPath: path)
    }
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("lmctl: \(message)\n".utf8))
}

do {
    try run()
    exit(0)
} catch let failure as Failure {
    if failure.status == 0 {
        print(usage, terminator: "")
    } else if failure.status == 2 {
        FileHandle.standardError.write(Data("lmctl: \(failure.message)\n\(usage)".utf8))
    } else {
        note(failure.message)
    }
    exit(failure.status)
} catch {
    note("\(error)")
    exit(1)
}
