import LinearAlgebra
import Testing

/// The draws seeded runs depend on, pinned: these values are what the Swift 6.3 standard
/// library's `Int.random(in:using:)`, `Double.random(in:using:)` and `shuffle(using:)` give for
/// the same generator, so a toolchain whose mapping differs cannot change lorakit's results.
@Suite struct SplitMix64Tests {
    @Test func rawWordsFollowSteeleLeaFlood() {
        var generator = SplitMix64(seed: 0)
        // The reference SplitMix64 sequence for seed 0.
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    @Test func integersBelowABound() {
        var generator = SplitMix64(seed: 42)
        #expect(
            (0..<8).map { _ in generator.integer(below: 1000) } == [
                741, 159, 278, 344, 38, 868, 218, 800,
            ])
        #expect((0..<8).map { _ in generator.integer(below: 3) } == [1, 1, 0, 1, 1, 1, 1, 0])
        var large = SplitMix64(seed: 7)
        #expect(
            (0..<4).map { _ in large.integer(below: (1 << 62) + 12345) } == [
                77_422_343_148_739_158, 4_154_025_436_703_913_456, 2_086_519_961_375_186_503,
                1_150_299_863_866_390_155,
            ])
    }

    @Test func uniformDoublesInAnInterval() {
        var generator = SplitMix64(seed: 9)
        #expect(
            (0..<4).map { _ in generator.uniform(in: -0.25..<0.75) } == [
                0.2288812369834088, 0.17314077855492038, 0.13035834712746097, 0.04844216852053407,
            ])
        #expect(
            (0..<3).map { _ in generator.uniform(in: 0..<1) } == [
                0.7094078945849455, 0.7173640738359379, 0.6162902613630421,
            ])
    }

    @Test func shufflesArraysAndSlices() {
        var generator = SplitMix64(seed: 3)
        #expect(generator.shuffled(0..<12) == [1, 8, 0, 3, 5, 9, 6, 11, 4, 7, 2, 10])
        var items = Array(0..<8)
        generator.shuffle(&items[2...])
        #expect(items == [0, 1, 6, 5, 3, 7, 4, 2])
    }
}
