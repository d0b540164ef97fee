import Foundation

/// Paths to the fixtures committed under `Tests/Fixtures`, found relative to this source file so
/// that tests never depend on the working directory.
public enum Fixtures {
    /// The `Tests/Fixtures` folder.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TestSupport
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures")

    /// The tiny GPT-2 model folder (2 layers, 32 wide, real vocabulary, random weights).
    public static var tinyModel: URL { root.appendingPathComponent("tiny-gpt2") }

    /// HF's outputs for the tiny model: `expected.json` and `logits.safetensors`.
    public static var tinyExpected: URL { root.appendingPathComponent("tiny-gpt2-expected") }

    /// The tokenizer cases (one JSON object per line).
    public static var tokenizerCases: URL { root.appendingPathComponent("tokenizer-cases.jsonl") }

    /// The repository's top-level folder.
    public static var repositoryRoot: URL {
        root.deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A fresh, empty temporary directory (short path, so that Unix socket paths fit in 108 bytes).
    public static func temporaryDirectory(_ prefix: String = "lmd") throws -> URL {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw NSError(domain: "TestSupport", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "mkdtemp failed"])
        }
        return URL(fileURLWithPath: String(cString: p))
    }
}
