import Foundation
import LMServer

/// lmd's command line, parsed by hand (no packages).
let usage = """
    usage: lmd --model PATH [--socket PATH] [--stdio] [--threads N] [--add-prefix-space] [--log-level L]

    Loads a GPT-2-family model once and answers newline-delimited JSON-RPC 2.0 requests.

      --model PATH         model folder (config.json, model.safetensors, tokenizer files)
      --socket PATH        Unix socket to listen on (default: $XDG_RUNTIME_DIR/lmd.sock,
                           else /tmp/lmd-$UID/lmd.sock)
      --stdio              serve one client on stdin/stdout instead of a socket
      --threads N          threads for the model's kernels (default: every core)
      --add-prefix-space   tokenize text as if it followed a space
      --log-level L        error, info (default) or debug; the log goes to stderr
      --help               show this text

    """

func usageError(_ message: String) -> Never {
    FileHandle.standardError.write(Data("lmd: \(message)\n\(usage)".utf8))
    exit(2)
}

var modelPath: String?
var configurationSocket: String?
var stdio = false
var threads: Int?
var addPrefixSpace = false
var logLevel = LogLevel.info

var arguments = Array(CommandLine.arguments.dropFirst())
var index = 0
func value(for option: String, inline: String?) -> String {
    if let inline { return inline }
    index += 1
    guard index < arguments.count else { usageError("\(option) needs a value") }
    return arguments[index]
}
while index < arguments.count {
    var argument = arguments[index]
    var inline: String?
    if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
        inline = String(argument[argument.index(after: equals)...])
        argument = String(argument[..<equals])
    }
    switch argument {
    case "--help", "-h":
        print(usage, terminator: "")
        exit(0)
    case "--model": modelPath = value(for: argument, inline: inline)
    case "--socket": configurationSocket = value(for: argument, inline: inline)
    case "--stdio": stdio = true
    case "--add-prefix-space": addPrefixSpace = true
    case "--threads":
        let text = value(for: argument, inline: inline)
        guard let n = Int(text), n >= 1 else { usageError("--threads needs a whole number of at least 1, not \(text)") }
        threads = n
    case "--log-level":
        let text = value(for: argument, inline: inline)
        guard let level = LogLevel(name: text) else { usageError("--log-level must be error, info or debug, not \(text)") }
        logLevel = level
    default:
        usageError(argument.hasPrefix("-") ? "unknown option \(argument)" : "unexpected argument \(argument)")
    }
    index += 1
}

guard let modelPath else { usageError("--model PATH is required") }
var configuration = DaemonConfiguration(modelPath: modelPath)
configuration.socketPath = configurationSocket
configuration.stdio = stdio
configuration.threads = threads
configuration.addPrefixSpace = addPrefixSpace
configuration.logLevel = logLevel
exit(Daemon.run(configuration))
