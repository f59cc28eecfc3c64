public import PalisadeProtocol

/// Hands out fencing tokens from a range that has been persisted ahead of use.
///
/// The persisted high-water mark is the highest token that may have been issued. Tokens are issued
/// only up to the confirmed reservation; when fewer than half a reservation remain, the allocator
/// asks for the next range to be persisted (one fsync per `reservationSize` grants, not per grant).
/// After a crash the service starts above the persisted mark, so no token is ever reissued.
public struct TokenAllocator: Sendable, Equatable {
    /// How many tokens one reservation covers.
    public let reservationSize: UInt64
    /// The next token to issue.
    public private(set) var next: UInt64
    /// The highest token whose reservation is on stable storage.
    public private(set) var reservedThrough: UInt64
    /// A reservation asked for and not yet confirmed.
    public private(set) var pendingReservation: UInt64?

    /// Starts above a persisted high-water mark whose range the caller has already persisted.
    /// - Parameters:
    ///   - issuedAtMost: every token issued before is at most this.
    ///   - reservedThrough: the range persisted for this run; at least `issuedAtMost`.
    ///   - reservationSize: the size of each further reservation.
    public init(issuedAtMost: UInt64, reservedThrough: UInt64, reservationSize: UInt64) {
        precondition(reservedThrough >= issuedAtMost && reservationSize > 0)
        self.next = issuedAtMost + 1
        self.reservedThrough = reservedThrough
        self.reservationSize = reservationSize
    }

    /// The highest token issued so far (0 when none was).
    public var lastIssued: UInt64 { next - 1 }

    /// Issues the next token, or nil when the reservation is used up.
    /// - Returns: the token, and a range to persist now when the reservation runs low.
    public mutating func allocate() -> (token: FencingToken, reserve: FencingToken?)? {
        guard next <= reservedThrough else { return nil }
        let token = FencingToken(next)
        next += 1
        let reserve = reservedThrough - lastIssued < reservationSize / 2 + 1 ? requestReservation() : nil
        return (token, reserve)
    }

    /// Asks for the next range to be persisted, unless one is already asked for.
    /// - Returns: the new high-water mark to persist, or nil.
    public mutating func requestReservation() -> FencingToken? {
        guard pendingReservation == nil else { return nil }
        let through = reservedThrough + reservationSize
        pendingReservation = through
        return FencingToken(through)
    }

    /// Records that tokens through `through` are now persisted.
    public mutating func confirmReservation(through: FencingToken) {
        reservedThrough = max(reservedThrough, through.rawValue)
        if let pending = pendingReservation, pending <= through.rawValue { pendingReservation = nil }
    }

    /// Forgets a reservation that could not be persisted, so that it is asked for again.
    public mutating func reservationFailed() {
        pendingReservation = nil
    }
}
