import Foundation
import LMEngine
import LMProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Everything `lmd` was asked to do, parsed from its command line.
public struct DaemonConfiguration: Sendable {
    /// The model folder.
    public var modelPath: String
    /// The name `info` reports (nil: the folder's name); the hub id when the model came from the hub.
    public var modelName: String?
    /// The socket path (nil: the default rule of `SocketPath`).
    public var socketPath: String?
    /// Serve stdin/stdout instead of a socket.
    public var stdio = false
    /// Kernel threads (nil: every core).
    public var threads: Int?
    /// Tokenize text as if it followed a space.
    public var addPrefixSpace = false
    /// How much to log.
    public var logLevel = LogLevel.info
    /// Transport limits.
    public var transport = TransportOptions()
    /// Dispatcher limits (queues, concurrent model requests, tokens per request).
    public var dispatcher = DispatcherOptions()
    /// Memory for the prefix cache, in bytes (nil: the engine's default).
    public var prefixCacheBytes: Int?
    /// The precision to compute with (nil: the checkpoint's own, exactly).
    public var precision: String?

    /// A configuration serving `modelPath` with defaults.
    public init(modelPath: String) { self.modelPath = modelPath }
}

/// The daemon's life: load the model once, serve until told to stop.
public enum Daemon {
    /// Runs the daemon and returns its exit status: 0 after an orderly stop, 1 when it cannot start
    /// (and, from the process, `MappedFileFault.exitStatus` (75) if a mapped model file is truncated under it).
    /// Failures are one sentence on stderr.
    public static func run(_ configuration: DaemonConfiguration) -> Int32 {
        let log = ServerLog(level: configuration.logLevel)
        let socketPath = SocketPath.resolve(configuration.socketPath)
        if !configuration.stdio {
            // Refuse before spending seconds on the model when another daemon already serves this socket.
            do {
                try SocketPath.validate(socketPath)
            } catch {
                return fail("\(error)")
            }
            if SocketPath.isListening(socketPath) {
                return fail("\(TransportError.alreadyRunning(path: socketPath))")
            }
        }
        // From here on the weights may be mapped: a truncated model file must not kill lmd without a word.
        MappedFileFault.install(modelPath: configuration.modelPath)
        log.info("starting: loading model \(configuration.modelPath)")
        var engineOptions = EngineOptions()
        if let threads = configuration.threads { engineOptions.threads = threads }
        if let bytes = configuration.prefixCacheBytes { engineOptions.prefixCacheBytes = bytes }
        if let name = configuration.precision {
            guard let precision = EngineOptions.precision(named: name) else {
                return fail("--dtype must be one of \(EngineOptions.precisionNames.joined(separator: ", ")), not \(name)")
            }
            engineOptions.precision = precision
        }
        let started = Date()
        let engine: Engine
        do {
            engine = try Engine.load(
                modelDirectory: URL(fileURLWithPath: configuration.modelPath), name: configuration.modelName, options: engineOptions)
        } catch {
            return fail("cannot load the model at \(configuration.modelPath): \(error)")
        }
        let info = engine.info
        log.info(
            "loaded \(info.model) (\(info.nLayer) layers, \(info.nEmbd) wide, vocabulary \(info.vocabSize), "
                + "context \(info.nPositions), \(info.dtype)) in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")

        var dispatcherOptions = configuration.dispatcher
        dispatcherOptions.addPrefixSpace = configuration.addPrefixSpace
        dispatcherOptions.logsTimings = log.level >= .debug
        let dispatcher = Dispatcher(engine: engine, options: dispatcherOptions, log: { log.debug($0) })
        let server: TransportServer =
            configuration.stdio
            ? StdioServer(service: dispatcher, options: configuration.transport, log: log)
            : SocketServer(path: socketPath, service: dispatcher, options: configuration.transport, log: log)
        do {
            return try ServerRunner.run(server, service: dispatcher, options: configuration.transport, log: log)
        } catch {
            return fail("\(error)")
        }
    }

    private static func fail(_ sentence: String) -> Int32 {
        FileHandle.standardError.write(Data("lmd: \(sentence)\n".utf8))
        return 1
    }
}
