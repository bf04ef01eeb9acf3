import LinearAlgebra
import RealModule
import Testing

@testable import TrainingIO

/// Captions to cross-attention context and the ADM vector `y`.
@Suite struct TextConditioningTests {
    @Test func tokensAreLowercaseWordsAfterStart() {
        let tokens = TextConditioning.tokens(for: [
            "Masterpiece", "(best quality:1.2)", "1girl", "--",
        ])
        #expect(tokens == ["<start>", "masterpiece", "best", "quality:1.2", "1girl"])
    }

    @Test func captionsAreCutAfter75Words() {
        let tags = (0..<100).map { "w\($0)" }
        let tokens = TextConditioning.tokens(for: tags)
        #expect(tokens.count == 76)
        #expect(tokens.last == "w74")
    }

    @Test func aTokenAlwaysHasTheSameEmbedding() {
        let cat = TextConditioning.embedding(of: "cat")
        #expect(cat.count == 64)
        #expect(cat == TextConditioning.embedding(of: "cat"))
        #expect(cat != TextConditioning.embedding(of: "dog"))
        let hash = DeterministicFill.fnv1a("te.token.cat")
        #expect(cat[5] == Float(DeterministicFill.signedUniform(hash: hash, index: 5)))
        #expect(cat.allSatisfy { $0 >= -1 && $0 < 1 })
        // "Cat," and "cat" are one word.
        let (a, _) = TextConditioning.context(for: [["Cat,"]])
        let (b, _) = TextConditioning.context(for: [["cat"]])
        #expect(a == b)
    }

    @Test func contextIsPaddedWithTheEndToken() {
        let (values, tokens) = TextConditioning.context(for: [["cat"], ["a red", "ball", "x"]])
        #expect(tokens == 5)
        #expect(values.count == 2 * 5 * 64)
        func row(_ b: Int, _ t: Int) -> [Float] {
            Array(values[((b * 5 + t) * 64)..<((b * 5 + t + 1) * 64)])
        }
        let start = TextConditioning.embedding(of: "<start>")
        let end = TextConditioning.embedding(of: "<end>")
        #expect(row(0, 0) == start && row(1, 0) == start)
        #expect(row(0, 1) == TextConditioning.embedding(of: "cat"))
        #expect(row(0, 2) == end && row(0, 3) == end && row(0, 4) == end)
        #expect(row(1, 4) == TextConditioning.embedding(of: "x"))
    }

    @Test func admVectorIsPooledTextThenSixSizeEmbeddings() {
        let size = SizeConditioning(
            originalSize: .init(width: 640, height: 480), cropTop: 0, cropLeft: 12,
            targetSize: .init(width: 32, height: 24))
        let y = TextConditioning.admVectors(for: [["cat"], ["cat", "cat"]], sizes: [size, size])
        #expect(y.count == 2 * 256)
        let start = TextConditioning.embedding(of: "<start>")
        let cat = TextConditioning.embedding(of: "cat")
        for j in 0..<64 {
            #expect(abs(y[j] - (start[j] + cat[j]) / 2) < 1e-6)
            #expect(abs(y[256 + j] - (start[j] + 2 * cat[j]) / 3) < 1e-6)
        }
        // Order: original h, original w, crop top, crop left, target h, target w; each
        // [cos(v·f_i), sin(v·f_i)] with f_0 = 1.
        let numbers: [Float] = [480, 640, 0, 12, 24, 32]
        for (k, v) in numbers.enumerated() {
            #expect(y[64 + 32 * k] == Float.cos(v))
            #expect(y[64 + 32 * k + 16] == Float.sin(v))
        }
        #expect(y[256 + 64..<512] == y[64..<256])
    }

    @Test func flippedSizeConditioningMirrorsTheCropLeft() throws {
        let buckets = try Buckets(
            resolution: .init(width: 32, height: 32), minimumSize: 16, maximumSize: 64, step: 8)
        let original = Buckets.Size(width: 100, height: 48)
        let assignment = buckets.select(original)
        let plain = SizeConditioning(originalSize: original, assignment: assignment, flipped: false)
        let flipped = SizeConditioning(
            originalSize: original, assignment: assignment, flipped: true)
        #expect(plain.targetSize == assignment.bucket)
        #expect(plain.cropLeft == assignment.cropLTRB[0] && plain.cropTop == assignment.cropLTRB[1])
        #expect(flipped.cropLeft == Double(assignment.bucket.width) - assignment.cropLTRB[2])
    }
}
