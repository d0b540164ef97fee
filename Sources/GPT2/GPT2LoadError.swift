import Foundation
import SafeTensors

/// Why a GPT-2 model folder could not be loaded; every case names the file and, where one is
/// involved, the config key or checkpoint tensor key.
public enum GPT2LoadError: Error, CustomStringConvertible, Sendable {
    /// A file the model needs is not there (`config.json`, `model.safetensors`).
    case missingFile(path: String)
    /// `config.json` is not a JSON object.
    case malformedConfig(file: String, reason: String)
    /// A config value this loader does not support, or of the wrong type; `reason` says what is wanted.
    case unsupportedConfig(file: String, key: String, value: String, reason: String)
    /// A tensor the model needs is not in the checkpoint.
    case missingTensor(file: String, key: String)
    /// A tensor's shape is not what the config implies (Conv1D layout: in × out).
    case shapeMismatch(file: String, key: String, expected: [Int], actual: [Int])
    /// A tensor is stored in a dtype that cannot be read as floats (only F32, F16, BF16 can).
    case unsupportedDType(file: String, key: String, dtype: String)
    /// The checkpoint holds a layer beyond `n_layer`: the config and the weights do not belong together.
    case unexpectedTensor(file: String, key: String, reason: String)
    /// The checkpoint file itself is damaged (truncated, bad header, bad offsets…).
    case corruptCheckpoint(SafeTensorsError)

    /// A sentence saying what is wrong, naming the file and key.
    public var description: String {
        switch self {
        case let .missingFile(path):
            return "Missing file \(path)."
        case let .malformedConfig(file, reason):
            return "Config \(file) is not valid: \(reason)."
        case let .unsupportedConfig(file, key, value, reason):
            return "Config \(file): \(key) = \(value) is not supported (\(reason))."
        case let .missingTensor(file, key):
            return "Checkpoint \(file) has no tensor \"\(key)\"."
        case let .shapeMismatch(file, key, expected, actual):
            return "Checkpoint \(file): tensor \"\(key)\" has shape \(actual), expected \(expected)."
        case let .unsupportedDType(file, key, dtype):
            return "Checkpoint \(file): tensor \"\(key)\" has dtype \(dtype); only F32, F16 and BF16 are supported."
        case let .unexpectedTensor(file, key, reason):
            return "Checkpoint \(file): unexpected tensor \"\(key)\" (\(reason))."
        case let .corruptCheckpoint(error):
            return "Corrupt checkpoint: \(error.description)"
        }
    }

    /// Turns a SafeTensors failure into the loader's terms: dtype problems stay dtype problems,
    /// a missing tensor stays a missing tensor, everything else is a damaged file.
    init(_ error: SafeTensorsError) {
        switch error {
        case let .unknownDType(file, key, dtype):
            self = .unsupportedDType(file: file, key: key, dtype: dtype)
        case let .unsupportedDType(file, key, dtype):
            self = .unsupportedDType(file: file, key: key, dtype: dtype.rawValue)
        case let .tensorNotFound(file, key):
            self = .missingTensor(file: file, key: key)
        case let .cannotOpen(file, _) where !FileManager.default.fileExists(atPath: file):
            self = .missingFile(path: file)
        default:
            self = .corruptCheckpoint(error)
        }
    }
}
