/// SplitMix64: a tiny, well-mixed generator whose sequence depends only on its seed, so that the same
/// seed gives the same numbers on every machine and release (random weights here, sampling in the
/// engine, the benchmark's prompts).
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    /// A generator started from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1) from the top 53 bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform Float in [-1, 1) from the top 24 bits.
    public mutating func nextSymmetricUnit() -> Float { Float(next() >> 40) * 0x1p-23 - 1 }
}
