import Foundation
import LinearAlgebra
import TestSupport
import Testing

/// Both spectral-norm paths (Gram below 385, Lanczos above) against the exact SVD.
@Test(arguments: [(200, 700), (700, 200), (640, 2560), (2000, 400)])
func spectralNormPathsAgreeWithTheSVD(rows: Int, columns: Int) throws {
    let a = randomMatrix(rows, columns, seed: UInt64(rows + columns))
    let exact = try a.svd().singularValues[0]
    #expect(relativeError(try a.spectralNorm(), exact) < 1e-5)
}
