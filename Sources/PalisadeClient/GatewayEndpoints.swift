import Foundation
import Synchronization

/// The gateways a client may talk to, and the one it talks to now.
///
/// Calls go to ``current``. When a call cannot reach it (the connection fails or stalls, or the
/// gateway answers that it cannot serve), the caller reports that with ``failed(_:)`` and the next
/// gateway of the list becomes current, round the list. Copies of a client share one list, so one
/// caller's discovery spares the others a timeout.
public final class GatewayEndpoints: Sendable {
    /// The base URLs, such as `http://127.0.0.1:9000`, in the order they are tried.
    public let all: [String]
    private let currentIndex = Mutex(0)

    /// `list` holds at least one base URL; trailing slashes are dropped.
    public init(_ list: [String]) {
        precondition(!list.isEmpty, "a client needs at least one endpoint")
        all = list.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// Base URLs separated by commas, as `PALISADE_ENDPOINT` holds them (`http://a:9000,http://b:9000`);
    /// blanks around them are ignored.
    public convenience init(parsing text: String) {
        let list = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        self.init(list.isEmpty ? [text] : list)
    }

    /// The same gateways, tried from the one at `offset` (round the list), with a current gateway
    /// of their own: gives each client of a pool a different first gateway, to spread the load.
    public func startingAt(_ offset: Int) -> GatewayEndpoints {
        let start = (offset % all.count + all.count) % all.count
        return GatewayEndpoints(Array(all[start...] + all[..<start]))
    }

    /// The gateway calls go to now.
    public var current: String {
        all[currentIndex.withLock { $0 }]
    }

    /// Reports that `endpoint` could not serve a call: if it is still the current one, the next
    /// becomes current. (Several calls failing on the same gateway move on once, not once each.)
    public func failed(_ endpoint: String) {
        currentIndex.withLock { index in
            if all[index] == endpoint { index = (index + 1) % all.count }
        }
    }
}
