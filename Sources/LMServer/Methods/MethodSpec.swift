import LMEngine
import LMProtocol

/// Which lane a queued call runs on: model work (forward, topk, complete, suggest) runs a bounded number
/// at a time, batched by the engine; tokenizer work (tokenize, detokenize) never waits behind the model.
enum MethodLane: Sendable {
    /// Forward passes.
    case model
    /// Tokenizer only.
    case text
}

/// A validated call, ready to answer or to queue.
enum PreparedCall {
    /// Answered at once on the receiving thread; `afterReply` runs once the reply has been sent (or, for
    /// a notification, at once).
    case immediate(JSONValue, afterReply: (@Sendable () -> Void)? = nil)
    /// Queued on a lane. `inputParam` names the param an engine length error is about.
    case queued(MethodLane, inputParam: String, work: @Sendable (JobContext) throws -> any WireResult)
}

/// What a handler may use while validating a call (on the receiving thread).
struct MethodEnvironment {
    /// The engine (only its `info` may be used here; engine work belongs in the queued closure).
    let engine: DispatchEngine
    /// The dispatcher's options.
    let options: DispatcherOptions
    /// The request's id; nil for a notification.
    let requestID: RPCID?
    /// Cancels a request of the same connection.
    let cancelRequest: (RPCID) -> Void
    /// Refuses new work from now on.
    let beginShutdown: () -> Void
    /// Tells the transport to finish and exit (to run after the reply is sent).
    let afterShutdownReply: @Sendable () -> Void
}

/// What queued work may use while it runs.
struct JobContext {
    /// The request being answered.
    let requestID: RPCID
    /// Set when the request is cancelled; pass it to the engine.
    let cancel: CancellationFlag
    /// Sends a notification (e.g. `complete/delta`) to the request's connection.
    let notify: (RPCRequest) -> Void
}

/// A cancelled request that has partial output to report in the -32800 error's data.
struct PartialCancellation: Error {
    /// The partial result.
    let partial: JSONValue
}

/// One wire method: its name and how a call is validated and prepared.
struct MethodSpec {
    /// The method name.
    let name: String
    /// Whether a notification (no id) of this method is carried out; others are ignored, as their only
    /// effect would be a reply nobody asked for.
    let runsAsNotification: Bool
    /// Validates params (throwing -32602) and prepares the call.
    let prepare: (JSONValue?, MethodEnvironment) throws(RPCError) -> PreparedCall
}
