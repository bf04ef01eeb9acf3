import Dispatch
import SafeTensors
import SystemIO

/// Tensors computed together on first use and released one by one as they are taken; a
/// tensor taken again (a second write) computes the group again. Unchecked-Sendable: its state
/// is behind a lock.
final class ComputedGroup: @unchecked Sendable {
    private struct State {
        var tensors: [String: Tensor] = [:]
        /// Why a computation ahead of the writer failed, thrown when the writer takes a tensor.
        var failure: (any Error)?
    }
    private let compute: @Sendable () throws -> [(name: String, tensor: Tensor)]
    private let state = Locked(State())

    init(compute: @escaping @Sendable () throws -> [(name: String, tensor: Tensor)]) {
        self.compute = compute
    }

    /// Computes the tensors now, so that taking them later does not wait (a writer's
    /// prefetch); a failure is kept and thrown by `take`.
    func prepare() {
        state.withLock { state in
            guard state.tensors.isEmpty, state.failure == nil else { return }
            do { state.tensors = try Self.named(compute()) } catch { state.failure = error }
        }
    }

    /// The tensor `spec` names.
    /// - Precondition: the computed tensor has the spec's dtype and shape.
    func take(_ spec: SafeTensorsWriter.Entry) throws -> Tensor {
        try state.withLock { state in
            if let failure = state.failure {
                state.failure = nil
                throw failure
            }
            if state.tensors[spec.name] == nil { state.tensors = try Self.named(compute()) }
            guard let tensor = state.tensors.removeValue(forKey: spec.name) else {
                preconditionFailure("the group does not compute \(spec.name)")
            }
            precondition(
                tensor.dtype == spec.dtype && tensor.dimensions == spec.dimensions,
                "computed \(spec.name) differs from its declared shape")
            return tensor
        }
    }

    private static func named(_ tensors: [(name: String, tensor: Tensor)]) -> [String: Tensor] {
        Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { $1 })
    }
}

/// Computes the groups a writer will reach next on the other cores while it writes (and
/// hashes) the current one: a resize's output factors, a merge's dense modules.
///
/// At most one group per core and `byteBudget` of declared output bytes are computed ahead, so
/// memory stays bounded whatever the file's size. A group the writer reaches before its
/// prefetch has started is computed by the writer itself and never again.
final class GroupPrefetcher: @unchecked Sendable {
    // @unchecked: `groups`, `bytes`, `position` and `cores` are immutable; `claimed` is locked;
    // `scheduled` is touched only by the writer's thread.

    /// Output bytes computed ahead of the writer at most.
    static let byteBudget: UInt64 = 256 << 20

    private let groups: [ComputedGroup]
    private let bytes: [UInt64]
    private let position: [ObjectIdentifier: Int]
    private let claimed: Locked<[Bool]>
    private let running = DispatchGroup()
    private let cores: Int
    private var scheduled = 0

    /// - Parameters:
    ///   - groups: each output tensor's group and size, in the order they are written (none:
    ///     nothing is computed ahead, the writer computes each group it reaches).
    ///   - cores: groups computed ahead at most.
    init(groups written: [(group: ComputedGroup, bytes: UInt64)], cores: Int) {
        var groups: [ComputedGroup] = []
        var bytes: [UInt64] = []
        var position: [ObjectIdentifier: Int] = [:]
        for (group, size) in written {
            if let index = position[ObjectIdentifier(group)] {
                bytes[index] += size
            } else {
                position[ObjectIdentifier(group)] = groups.count
                groups.append(group)
                bytes.append(size)
            }
        }
        (self.groups, self.bytes, self.position) = (groups, bytes, position)
        claimed = Locked([Bool](repeating: false, count: groups.count))
        self.cores = cores
    }

    /// Claims `group` for the writer, starts computing the ones after it, then runs `take`.
    func reached<Result>(_ group: ComputedGroup, take: () throws -> Result) rethrows -> Result {
        guard let index = position[ObjectIdentifier(group)] else { return try take() }
        _ = claim(index)
        scheduled = max(scheduled, index + 1)
        var ahead = bytes[(index + 1)..<scheduled].reduce(0, +)
        while scheduled < groups.count, scheduled - index <= cores,
            ahead + bytes[scheduled] <= Self.byteBudget
        {
            let next = scheduled
            ahead += bytes[next]
            scheduled += 1
            DispatchQueue.global().async(group: running) { [self] in
                if claim(next) { groups[next].prepare() }
            }
        }
        return try take()
    }

    /// Waits for computations already started (a failed write returns without leaving work
    /// running).
    func finish() {
        claimed.withLock { claimed in
            for index in claimed.indices { claimed[index] = true }
        }
        running.wait()
    }

    /// Marks a group as taken care of; true if nobody had.
    private func claim(_ index: Int) -> Bool {
        claimed.withLock { claimed in
            defer { claimed[index] = true }
            return !claimed[index]
        }
    }
}
