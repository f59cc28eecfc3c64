/// Why the lock service refused an operation. Rejections inside the table are values of this type;
/// the HTTP shell turns each ``Code`` into one lock API error code.
public struct LockError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of refusal.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case leaseNotFound, notHolder, lockHeld, waitTimeout, modeConflict, superseded
            case leaseLost, cancelled, invalidTTL, invalidWait, tokensUnavailable, storageUnavailable, shuttingDown
            case tooManyLeases, tooManyWaiters
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The lease does not exist, or has expired or been revoked.
        public static let leaseNotFound = Code(.leaseNotFound)
        /// The owner has as many live leases as it may.
        public static let tooManyLeases = Code(.tooManyLeases)
        /// The owner has as many acquires waiting as it may.
        public static let tooManyWaiters = Code(.tooManyWaiters)
        /// The lease does not hold the lock with the presented token.
        public static let notHolder = Code(.notHolder)
        /// A try-acquire found the lock unavailable.
        public static let lockHeld = Code(.lockHeld)
        /// A blocking acquire's wait ran out.
        public static let waitTimeout = Code(.waitTimeout)
        /// The lease holds the lock in the other mode.
        public static let modeConflict = Code(.modeConflict)
        /// A newer acquire by the same lease for the same lock took over this wait.
        public static let superseded = Code(.superseded)
        /// The lease expired or was revoked while the acquire waited.
        public static let leaseLost = Code(.leaseLost)
        /// The lease gave up its wait (a release without a token while queued).
        public static let cancelled = Code(.cancelled)
        /// A TTL outside the configured bounds.
        public static let invalidTTL = Code(.invalidTTL)
        /// A wait outside the configured bounds.
        public static let invalidWait = Code(.invalidWait)
        /// No fencing token can be issued because the high-water mark could not be persisted.
        public static let tokensUnavailable = Code(.tokensUnavailable)
        /// The change could not be saved (a full or failing disk): it did not happen.
        public static let storageUnavailable = Code(.storageUnavailable)
        /// The service is shutting down.
        public static let shuttingDown = Code(.shuttingDown)

        public var description: String { String(describing: wrapped) }
    }

    /// The kind of refusal.
    public var code: Code
    /// A sentence for people.
    public var message: String

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
