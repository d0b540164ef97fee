import Foundation

/// The MLP nonlinearities GPT-2-family checkpoints name in `activation_function`.
public enum Activation: String, Sendable, CaseIterable {
    /// The tanh approximation GPT-2 was trained with (`gelu_new`, also `gelu_pytorch_tanh`).
    case geluNew = "gelu_new"
    /// The exact, erf-based GELU (`gelu`).
    case gelu = "gelu"
    /// max(0, x) (`relu`).
    case relu = "relu"

    /// The activation of one value, written as the papers define it.
    @inlinable
    public func apply(_ x: Float) -> Float {
        switch self {
        case .geluNew:
            // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
            let c: Float = 0.7978845608028654
            return 0.5 * x * (1 + Foundation.tanh(c * (x + 0.044715 * x * x * x)))
        case .gelu:
            return 0.5 * x * (1 + Foundation.erf(x * 0.7071067811865476))
        case .relu:
            return x > 0 ? x : 0
        }
    }
}
