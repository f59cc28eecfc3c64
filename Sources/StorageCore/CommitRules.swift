public import PalisadeProtocol

/// The rules every write passes at its commit point, in the same transaction as the write.
///
/// Pure: given the current version and the write, decide. The metadata store runs this inside its
/// commit transaction, so the decision and the write are one atomic step.
public enum CommitRules {
    /// Decides whether `intent` may commit over `current` (nil: the key is absent), given what is
    /// known about fencing and the `records` already made under the write's names. A recorded name
    /// refuses first (the write committed already, or was declared abandoned: either way it must
    /// not commit now); then fencing: a stale writer learns nothing about the object.
    ///
    /// A broken precondition is `conditionalRequestConflict` when a commit changed the key after the
    /// request observed it (the conditions were checked then), `noSuchKey` when `If-Match` finds
    /// the key absent as the request did, and `preconditionFailed` otherwise.
    public static func decide(
        _ intent: WriteIntent,
        current: ObjectHead?,
        fence: FenceCheck = .unfenced,
        records: [WriteRecord] = []
    ) -> CommitDecision {
        if let record = records.first { return .reject(record.committed == nil ? .writeAbandoned : .writeNameTaken) }
        if let rejection = fenceRejection(fence) { return .reject(rejection) }
        let outcome = intent.preconditions.evaluate(current)
        guard outcome != .hold else { return .accept }
        guard current?.commitSequence == intent.observedSequence else { return .reject(.conditionalRequestConflict) }
        return .reject(outcome == .keyAbsent ? .noSuchKey : .preconditionFailed)
    }
}

extension CommitRules {
    /// Why `fence` refuses the write, or nil. On acceptance the store records the claim's token as
    /// the lock's highest.
    public static func fenceRejection(_ fence: FenceCheck) -> CommitRejection? {
        guard let claim = fence.claim else { return fence.pathIsFenced ? .fencingTokenRequired : nil }
        if let highest = fence.highestToken, claim.token < highest {
            return .staleFencingToken(presented: claim.token, highest: highest)
        }
        if fence.claimIsLiveHolder == false { return .lockNotHeld }
        return nil
    }
}

/// The outcome of ``CommitRules/decide(_:current:fence:)``.
public enum CommitDecision: Sendable, Equatable {
    case accept
    case reject(CommitRejection)
}

/// Why a write was refused at its commit point. Refused writes change nothing.
public enum CommitRejection: Error, Sendable, Equatable {
    /// `If-Match` / `If-None-Match` did not hold, and the object is as the request found it (412).
    case preconditionFailed
    /// `If-Match` on a key that does not exist, and did not when the request began (404).
    case noSuchKey
    /// The conditions held when the request began, but a racing commit changed the object since (409).
    case conditionalRequestConflict
    /// The write's token is lower than the highest recorded for its lock: a former holder (409).
    case staleFencingToken(presented: FencingToken, highest: FencingToken)
    /// The token is not the lock's current live holder: its lease expired or the lock was released (409).
    case lockNotHeld
    /// The path is fenced and the write carries no token (403).
    case fencingTokenRequired
    /// A write under the same name has committed already (409); the client's retry is answered
    /// from the record before it reaches a commit, so this is a retry that raced the first attempt.
    case writeNameTaken
    /// The write's name was declared abandoned by a client asking what became of it (409).
    case writeAbandoned
}
