import Dispatch
import SystemIO
import Testing

@Suite struct LockedTests {
    @Test func incrementsFromManyThreadsAllCount() {
        let counter = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 10_000) { _ in
            counter.withLock { $0 += 1 }
        }
        #expect(counter.withLock { $0 } == 10_000)
    }

    @Test func errorsPassThroughAndReleaseTheLock() {
        struct Refused: Error, Equatable {}
        let value = Locked([1, 2])
        #expect(throws: Refused()) {
            try value.withLock { (numbers: inout [Int]) throws(Refused) in
                numbers.append(3)
                throw Refused()
            }
        }
        #expect(value.withLock { $0 } == [1, 2, 3])
    }
}
