import Foundation
import LMServer
import ModelHub

/// lmd's command line, parsed by hand (no packages).
let usage = """
    usage: lmd [--model MODEL] [--socket PATH] [--stdio] [--threads N] [--add-prefix-space] [--log-level L]
               [--max-batch N] [--prefix-cache-mb N] [--max-line-bytes N] [--max-tokens N]
               [--max-queue N] [--max-queue-total N] [--max-clients N] [--dtype D] [--max-outgoing-bytes N]

    Loads a GPT-2-family model once and answers newline-delimited JSON-RPC 2.0 requests.

      --model MODEL        a model folder (config.json, model.safetensors, tokenizer files), a .gguf file,
                           or a Hugging Face id (distilgpt2, gpt2, openai-community/gpt2-xl, ID@revision),
                           found in the Hugging Face cache or downloaded into it (default: distilgpt2)
      --socket PATH        Unix socket to listen on (default: $XDG_RUNTIME_DIR/lmd.sock,
                           else /tmp/lmd-$UID/lmd.sock)
      --stdio              serve one client on stdin/stdout instead of a socket
      --threads N          threads for the model's kernels (default: every core)
      --add-prefix-space   tokenize text as if it followed a space (per request: add_prefix_space)
      --log-level L        error, info (default) or debug; the log goes to stderr
      --dtype D            compute with f32, f16, bf16 or q8_0 weights, converted at load (default: the
                           checkpoint's own precision, exactly); smaller weights decode faster
      --max-batch N        model requests computed together at most (default 8)
      --prefix-cache-mb N  memory for reusable KV caches of recent sequences (default 512; 0: off)
      --max-line-bytes N   longest request line (default 16777216); longer: -32600 and the connection closes
      --max-tokens N       max_tokens a complete request may ask for (default: no cap but the context)
      --max-queue N        requests waiting per connection (default 256); more: -32000 server busy
      --max-queue-total N  requests waiting in all (default 4096); more: -32000 server busy
      --max-clients N      connections at once (default 1024); one more gets a -32000 server busy line
                           and is closed
      --max-outgoing-bytes N
                           reply bytes a client may leave unread (default 67108864); past that it is
                           disconnected (one reply of any size always fits)
      --help               show this text

    """

func usageError(_ message: String) -> Never {
    FileHandle.standardError.write(Data("lmd: \(message)\n\(usage)".utf8))
    exit(2)
}

var modelSpec = "distilgpt2"
var configurationSocket: String?
var stdio = false
var threads: Int?
var addPrefixSpace = false
var logLevel = LogLevel.info
var dispatcher = DispatcherOptions()
var transport = TransportOptions()
var prefixCacheBytes: Int?
var precision: String?

var arguments = Array(CommandLine.arguments.dropFirst())
var index = 0
func value(for option: String, inline: String?) -> String {
    if let inline { return inline }
    index += 1
    guard index < arguments.count else { usageError("\(option) needs a value") }
    return arguments[index]
}
func number(for option: String, inline: String?, minimum: Int) -> Int {
    let text = value(for: option, inline: inline)
    guard let n = Int(text), n >= minimum else { usageError("\(option) needs a whole number of at least \(minimum), not \(text)") }
    return n
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
    case "--model": modelSpec = value(for: argument, inline: inline)
    case "--socket": configurationSocket = value(for: argument, inline: inline)
    case "--stdio": stdio = true
    case "--add-prefix-space": addPrefixSpace = true
    case "--threads": threads = number(for: argument, inline: inline, minimum: 1)
    case "--log-level":
        let text = value(for: argument, inline: inline)
        guard let level = LogLevel(name: text) else { usageError("--log-level must be error, info or debug, not \(text)") }
        logLevel = level
    case "--dtype": precision = value(for: argument, inline: inline)
    case "--max-batch": dispatcher.maxConcurrentModelRequests = number(for: argument, inline: inline, minimum: 1)
    case "--prefix-cache-mb": prefixCacheBytes = number(for: argument, inline: inline, minimum: 0) << 20
    case "--max-line-bytes": transport.maxLineLength = number(for: argument, inline: inline, minimum: 64)
    case "--max-tokens": dispatcher.maxTokensPerRequest = number(for: argument, inline: inline, minimum: 1)
    case "--max-queue": dispatcher.maxQueuedPerSession = number(for: argument, inline: inline, minimum: 1)
    case "--max-queue-total": dispatcher.maxQueuedTotal = number(for: argument, inline: inline, minimum: 1)
    case "--max-clients": transport.maxConnections = number(for: argument, inline: inline, minimum: 1)
    case "--max-outgoing-bytes": transport.maxOutgoingBytes = number(for: argument, inline: inline, minimum: 0)
    default:
        usageError(argument.hasPrefix("-") ? "unknown option \(argument)" : "unexpected argument \(argument)")
    }
    index += 1
}

// A folder or a .gguf file is used as it is; anything else is a hub id (cache first, then download).
let modelPath: String
var modelName: String?
do {
    let progress = HubProgressPrinter()
    let resolved = try ModelHub.resolve(modelSpec, progress: progress.handler)
    modelPath = resolved.directory.path
    modelName = resolved.id.map { "\($0)" }
} catch {
    FileHandle.standardError.write(Data("lmd: \(error)\n".utf8))
    exit(1)
}

var configuration = DaemonConfiguration(modelPath: modelPath)
configuration.modelName = modelName
configuration.socketPath = configurationSocket
configuration.stdio = stdio
configuration.threads = threads
configuration.addPrefixSpace = addPrefixSpace
configuration.logLevel = logLevel
configuration.dispatcher = dispatcher
configuration.transport = transport
configuration.prefixCacheBytes = prefixCacheBytes
configuration.precision = precision
exit(Daemon.run(configuration))
