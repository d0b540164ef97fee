import LMProtocol

/// `$/cancelRequest`: cancels a queued or running request of the same connection (usually a notification;
/// sent as a request it answers null). Unknown or finished ids are ignored, as the request may just have ended.
enum CancelRequestHandler {
    static let spec = MethodSpec(name: CancelRequestParams.method, runsAsNotification: true) { params, env throws(RPCError) in
        let p = try CancelRequestParams(params)
        env.cancelRequest(p.id)
        return .immediate(.null)
    }
}
