import LinearAlgebra
import Testing

@testable import TrainingIO

/// Captions as comma-separated tags, shuffling with `--keep_tokens`, and `ss_tag_frequency`.
@Suite struct CaptionTests {
    @Test func tagsAreTrimmedAndEmptiesDropped() {
        #expect(Caption(" 1girl,solo , , red hair,,\t").tags == ["1girl", "solo", "red hair"])
        #expect(Caption("").tags.isEmpty)
        #expect(Caption("a,b").text == "a, b")
    }

    @Test(arguments: [0, 1, 2, 3])
    func shuffleKeepsTheFirstKeepTokensTags(keep: Int) {
        let caption = Caption("sks, person, a, b, c, d, e, f")
        var shuffledSomewhere = false
        for seed in 0..<20 as Range<UInt64> {
            var generator = SplitMix64(seed: seed)
            let shuffled = caption.shuffled(keepingFirst: keep, using: &generator)
            #expect(Array(shuffled.tags.prefix(keep)) == Array(caption.tags.prefix(keep)))
            #expect(shuffled.tags.sorted() == caption.tags.sorted())
            if shuffled != caption { shuffledSomewhere = true }
        }
        #expect(shuffledSomewhere)
    }

    @Test func shuffleIsReproducibleFromTheSeed() {
        let caption = Caption("a, b, c, d, e, f, g")
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        #expect(
            caption.shuffled(keepingFirst: 1, using: &first)
                == caption.shuffled(keepingFirst: 1, using: &second))
    }

    @Test func keepingAtLeastEveryTagChangesNothing() {
        let caption = Caption("a, b")
        var generator = SplitMix64(seed: 1)
        #expect(caption.shuffled(keepingFirst: 2, using: &generator) == caption)
        #expect(caption.shuffled(keepingFirst: 5, using: &generator) == caption)
    }

    @Test func tagFrequencyIsLowercasedAndWrittenAsPythonJSON() {
        var frequency = TagFrequency()
        frequency.add(Caption("Café, \"quoted\", cat"), folder: "5_b")
        frequency.add(Caption("CAT"), folder: "5_b")
        frequency.add(Caption("dog"), folder: "1_a")
        #expect(frequency.counts["5_b"] == ["café": 1, "\"quoted\"": 1, "cat": 2])
        #expect(
            frequency.json
                == #"{"5_b": {"caf\u00e9": 1, "\"quoted\"": 1, "cat": 2}, "1_a": {"dog": 1}}"#)
    }
}
