import LMProtocol

/// `shutdown`: refuses new work at once, replies null, then asks the transport to finish in-flight work and exit.
enum ShutdownHandler {
    static let spec = MethodSpec(name: ShutdownParams.method, runsAsNotification: true) { params, env throws(RPCError) in
        _ = try ShutdownParams(params)
        env.beginShutdown()
        return .immediate(.null, afterReply: env.afterShutdownReply)
    }
}
