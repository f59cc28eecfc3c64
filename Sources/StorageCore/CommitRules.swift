/// The rules every write passes at its commit point, in the same transaction as the write.
///
/// Pure: given the current version and the write, decide. The metadata store runs this inside its
/// commit transaction, so the decision and the write are one atomic step.
public enum CommitRules {
    /// Decides whether `intent` may commit over `current` (nil: the key is absent).
    ///
    /// A broken precondition is `conditionalRequestConflict` when a commit changed the key after the
    /// request observed it (the conditions were checked then), and `preconditionFailed` otherwise.
    public static func decide(_ intent: WriteIntent, current: ObjectHead?) -> CommitDecision {
        guard intent.preconditions.hold(for: current) else {
            return .reject(
                current?.commitSequence == intent.observedSequence ? .preconditionFailed : .conditionalRequestConflict
            )
        }
        return .accept
    }
}

/// The outcome of ``CommitRules/decide(_:current:)``.
public enum CommitDecision: Sendable, Equatable {
    case accept
    case reject(CommitRejection)
}

/// Why a write was refused at its commit point. Refused writes change nothing.
public enum CommitRejection: Error, Sendable, Equatable {
    /// `If-Match` / `If-None-Match` did not hold, and the object is as the request found it (412).
    case preconditionFailed
    /// The conditions held when the request began, but a racing commit changed the object since (409).
    case conditionalRequestConflict
}
