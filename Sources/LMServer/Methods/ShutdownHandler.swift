import LMProtocol

/// `shutdown`: replies null at once, then asks the transport to finish in-flight work and exit.
enum ShutdownHandler {
    static let spec = MethodSpec(name: ShutdownParams.method, runsAsNotification: true) { params, env throws(RPCError) in
        _ = try ShutdownParams(params)
        return .immediate(.null, afterReply: env.requestShutdown)
    }
}
