import Foundation

/// Where the cache is, where to download from and whether to, read from the environment variables
/// huggingface_hub reads, so that both tools share one cache.
public struct HubSettings: Sendable, Equatable {
    /// The cache root: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    public var cacheDirectory: URL
    /// The hub's base URL: `$HF_ENDPOINT`, else `https://huggingface.co` (no trailing slash).
    public var endpoint: String
    /// True when `$HF_HUB_OFFLINE` is 1/true/yes/on: never touch the network.
    public var offline: Bool
    /// `$HF_TOKEN`, sent (to the endpoint's host only) for private and gated models.
    public var token: String?

    /// The settings a given environment implies.
    ///
    /// Cache root precedence, as huggingface_hub: `HF_HUB_CACHE`, the older `HUGGINGFACE_HUB_CACHE`,
    /// `HF_HOME/hub`, `XDG_CACHE_HOME/huggingface/hub`, `~/.cache/huggingface/hub`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        let home = value("HOME") ?? NSHomeDirectory()
        func expand(_ path: String) -> URL {
            if path == "~" { return URL(fileURLWithPath: home, isDirectory: true) }
            if path.hasPrefix("~/") { return URL(fileURLWithPath: home + path.dropFirst(1), isDirectory: true) }
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        if let cache = value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE") {
            cacheDirectory = expand(cache)
        } else if let hfHome = value("HF_HOME") {
            cacheDirectory = expand(hfHome).appendingPathComponent("hub", isDirectory: true)
        } else {
            let xdg = value("XDG_CACHE_HOME").map(expand) ?? expand("~/.cache")
            cacheDirectory = xdg.appendingPathComponent("huggingface/hub", isDirectory: true)
        }
        var endpoint = value("HF_ENDPOINT") ?? "https://huggingface.co"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        offline = ["1", "true", "yes", "on"].contains(value("HF_HUB_OFFLINE")?.lowercased() ?? "")
        token = value("HF_TOKEN") ?? value("HUGGING_FACE_HUB_TOKEN")
    }
}
