/// The `code` strings of lock API errors, with their HTTP statuses (`Protocol/lock-api.md`).
public enum LockAPIErrorCode {
    /// 400: the body is not JSON of the expected shape.
    public static let malformedRequest = "MalformedRequest"
    /// 400: a lock name is empty, longer than 1024 bytes or has control characters.
    public static let invalidLockName = "InvalidLockName"
    /// 400: a TTL outside 1 s – 1 h.
    public static let invalidTTL = "InvalidTTL"
    /// 400: another argument is out of range (a wait, a token, a lease id).
    public static let invalidArgument = "InvalidArgument"
    /// 401: the request carries no credentials.
    public static let missingAuthentication = "MissingAuthentication"
    /// 403: the access key is unknown.
    public static let invalidAccessKeyID = "InvalidAccessKeyId"
    /// 403: the access key's policy does not allow the request.
    public static let accessDenied = "AccessDenied"
    /// 403: the signature does not match.
    public static let signatureDoesNotMatch = "SignatureDoesNotMatch"
    /// 403: the request's time is more than 15 minutes from the server's.
    public static let requestTimeTooSkewed = "RequestTimeTooSkewed"
    /// 404: the lease does not exist, or has expired or been revoked.
    public static let leaseNotFound = "LeaseNotFound"
    /// 404: no such endpoint.
    public static let notFound = "NotFound"
    /// 408: a blocking acquire's wait ran out before the lock was granted.
    public static let waitTimeout = "WaitTimeout"
    /// 400: the client stopped sending the request's body for longer than the server waits.
    public static let requestTimeout = "RequestTimeout"
    /// 409: a try-acquire found the lock held, queued for, or in its lock-delay.
    public static let lockHeld = "LockHeld"
    /// 409: the lease does not hold the lock with this token.
    public static let notHolder = "NotHolder"
    /// 409: the lease holds the lock in the other mode.
    public static let modeConflict = "ModeConflict"
    /// 409: a newer acquire by the same lease for the same lock took this request's place in the queue.
    public static let acquireSuperseded = "AcquireSuperseded"
    /// 409: the lease gave up this wait (a release without a token while queued).
    public static let acquireCancelled = "AcquireCancelled"
    /// 409: the lease expired or was revoked while this acquire waited.
    public static let leaseLost = "LeaseLost"
    /// 429: the access key already has as many live leases as it may.
    public static let tooManyLeases = "TooManyLeases"
    /// 429: the access key already has as many acquires waiting as it may.
    public static let tooManyWaiters = "TooManyWaiters"
    /// 413: the request body is larger than the lock API reads.
    public static let requestTooLarge = "RequestTooLarge"
    /// 503: the server is shutting down or cannot persist fencing tokens.
    public static let serviceUnavailable = "ServiceUnavailable"
    /// 503: a lock change could not be saved (the disk is full or failing); it did not happen.
    public static let storageUnavailable = "StorageUnavailable"
    /// 500: an unexpected server error.
    public static let internalError = "InternalError"
    /// 426: the lock session endpoint was asked without a WebSocket upgrade.
    public static let upgradeRequired = "UpgradeRequired"

    /// Every code above.
    public static let all: [String] = [
        malformedRequest, invalidLockName, invalidTTL, invalidArgument, missingAuthentication, invalidAccessKeyID,
        signatureDoesNotMatch, requestTimeTooSkewed, leaseNotFound, notFound, waitTimeout, lockHeld, notHolder,
        modeConflict, acquireSuperseded, acquireCancelled, leaseLost, requestTooLarge, serviceUnavailable,
        storageUnavailable, internalError, upgradeRequired, requestTimeout,
        tooManyLeases, tooManyWaiters, accessDenied,
    ]
}
