import LMKernels

/// One weight of the model: a read-only view whose memory `GPT2Weights` keeps alive.
///
/// Stored as float32 (read in place or converted at load), or — for the matrices the matmuls read —
/// packed in panels (`GPT2Weights.laidOutForKernels()`) or in a lower precision (`converted(to:)`).
/// Valid only while the `GPT2Weights` it came from is alive.
public struct WeightTensor: @unchecked Sendable {
    /// The checkpoint key it was read from (for tied heads, wte's key).
    public let key: String
    /// Its dimensions, outermost first (row-major).
    public let shape: [Int]
    /// How its values are stored.
    public let storage: WeightStorage
    private let elementCount: Int

    /// The number of values: the product of `shape`.
    public var count: Int { elementCount }

    /// The precision its values are stored in.
    public var precision: WeightPrecision { storage.precision }

    /// The first of `count` float32 values. Only float32 tensors have them: asking a converted one is
    /// a programming error (read it through `storage`).
    public var pointer: UnsafePointer<Float> {
        guard case .float32(let p) = storage else {
            preconditionFailure("\(key) is stored as \(precision.rawValue), not float32; read it through `storage`")
        }
        return p
    }

    /// The values as a buffer (float32 tensors only, as `pointer`).
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: elementCount) }

    /// A view of `shape.reduce(1, *)` floats at `pointer`; the caller keeps that memory alive.
    public init(key: String, shape: [Int], pointer: UnsafePointer<Float>) {
        self.key = key
        self.shape = shape
        self.storage = .float32(pointer)
        self.elementCount = shape.reduce(1, *)
    }

    /// A float32 matrix packed in panels; `shape` is [matrix.rows, matrix.columns]. The caller keeps
    /// the matrix alive.
    public init(key: String, packed matrix: PackedMatrix) {
        self.key = key
        self.shape = [matrix.rows, matrix.columns]
        self.storage = .packed(matrix)
        self.elementCount = matrix.rows * matrix.columns
    }

    /// A float32 [N, K] matrix held as its transpose packed in panels (`matrix` is K×N); `shape` is
    /// [N, K]. The caller keeps the matrix alive.
    public init(key: String, packedTranspose matrix: PackedMatrix) {
        self.key = key
        self.shape = [matrix.columns, matrix.rows]
        self.storage = .packedTransposed(matrix)
        self.elementCount = matrix.rows * matrix.columns
    }

    /// A [N, K] matrix held as its transpose converted to a narrower format (`matrix` is K×N, in
    /// column-major tiles); `shape` is [N, K]. The caller keeps the matrix's storage alive.
    public init(key: String, quantizedTranspose matrix: QuantizedMatrix) {
        self.key = key
        self.shape = [matrix.columns, matrix.rows]
        self.storage = .quantizedTransposed(matrix)
        self.elementCount = matrix.rows * matrix.columns
    }

    /// A view of a converted matrix; `shape` is [matrix.rows, matrix.columns]. The caller keeps the
    /// matrix's storage alive.
    public init(key: String, matrix: QuantizedMatrix) {
        self.key = key
        self.shape = [matrix.rows, matrix.columns]
        self.storage = .quantized(matrix)
        self.elementCount = matrix.rows * matrix.columns
    }
}

/// The weights of one transformer block (C = n_embd, I = n_inner; Conv1D weights are in × out).
public struct GPT2LayerWeights: @unchecked Sendable {
    /// ln_1 gain and bias, [C].
    public let ln1Weight, ln1Bias: WeightTensor
    /// attn.c_attn weight, [C, 3C]: x·W gives q, k, v side by side.
    public let attnWeight: WeightTensor
    /// attn.c_attn bias, [3C].
    public let attnBias: WeightTensor
    /// attn.c_proj weight, [C, C].
    public let attnProjWeight: WeightTensor
    /// attn.c_proj bias, [C].
    public let attnProjBias: WeightTensor
    /// ln_2 gain and bias, [C].
    public let ln2Weight, ln2Bias: WeightTensor
    /// mlp.c_fc weight, [C, I].
    public let fcWeight: WeightTensor
    /// mlp.c_fc bias, [I].
    public let fcBias: WeightTensor
    /// mlp.c_proj weight, [I, C].
    public let mlpProjWeight: WeightTensor
    /// mlp.c_proj bias, [C].
    public let mlpProjBias: WeightTensor

    /// Builds a block from views made by `make`, one per spec of `keys`.
    init(_ keys: LayerKeys, _ make: (WeightSpec) throws -> WeightTensor) rethrows {
        ln1Weight = try make(keys.ln1Weight)
        ln1Bias = try make(keys.ln1Bias)
        attnWeight = try make(keys.attnWeight)
        attnBias = try make(keys.attnBias)
        attnProjWeight = try make(keys.attnProjWeight)
        attnProjBias = try make(keys.attnProjBias)
        ln2Weight = try make(keys.ln2Weight)
        ln2Bias = try make(keys.ln2Bias)
        fcWeight = try make(keys.fcWeight)
        fcBias = try make(keys.fcBias)
        mlpProjWeight = try make(keys.mlpProjWeight)
        mlpProjBias = try make(keys.mlpProjBias)
    }
}
