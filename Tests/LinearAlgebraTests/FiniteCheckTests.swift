import LinearAlgebra
import Testing

/// `allFinite` decides whether a tensor may be used: one bad value anywhere, in the SIMD body
/// or the tail, must be found.
@Suite struct FiniteCheckTests {
    @Test(arguments: [0, 1, 15, 16, 17, 100, 1_000])
    func findsOneBadValueAnywhere(count: Int) {
        let values = (0..<count).map { Float($0) * 1e30 - 3 }
        #expect(values.allFinite)
        for position in [0, count / 2, count - 1] where position >= 0 && position < count {
            for bad in [Float.nan, .infinity, -.infinity, .signalingNaN] {
                var broken = values
                broken[position] = bad
                #expect(!broken.allFinite, "\(bad) at \(position) of \(count)")
            }
        }
    }

    @Test func extremesAreFinite() {
        #expect(
            [
                Float.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude,
                -0.0,
            ].allFinite)
    }
}
