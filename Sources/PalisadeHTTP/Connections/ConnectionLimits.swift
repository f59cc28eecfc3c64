/// How long a connection may keep the server waiting, and how many connections it serves at once.
/// Each bound keeps a client that opens connections and sends nothing (or sends slowly) from
/// holding the server's file descriptors and tasks.
public struct ConnectionLimits: Sendable, Equatable {
    /// A connection with no request in progress and nothing received is closed after this long.
    public var idleTimeout: Duration
    /// Once a request's first byte has arrived (or, on a new connection, from its opening), its
    /// whole head must arrive within this; else the connection is closed.
    public var headerTimeout: Duration
    /// While the server waits for more of a request's body, the client must send some within
    /// this; else it is answered `400 RequestTimeout` and the connection is closed.
    public var bodyTimeout: Duration
    /// Connections beyond this many are closed as soon as they are accepted.
    public var maximumConnections: Int

    public init(
        idleTimeout: Duration = .seconds(60),
        headerTimeout: Duration = .seconds(10),
        bodyTimeout: Duration = .seconds(30),
        maximumConnections: Int = 4096
    ) {
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.maximumConnections = maximumConnections
    }
}
