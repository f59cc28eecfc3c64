import Foundation
import PalisadeProtocol
import Testing

/// The lock session's hot-path coders against Foundation's: the same messages either way, and
/// nothing read that `JSONDecoder` would refuse.
@Suite("lock messages without Foundation's coders")
struct LockMessageCodingTests {
    static let names: [LockName] = ["orders/42", "a", "quote\"back\\slash/é🦀", "x/y/z"]
    static let lease = LeaseID(rawValue: String(repeating: "0f", count: 16))!

    static func flat<T: FlatJSONDecodable>(_ type: T.Type, _ text: String) -> T? {
        T(json: text[...])
    }

    static func foundation(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    @Test("requests Foundation writes are read as Foundation reads them")
    func requests() throws {
        for name in Self.names {
            for mode in [nil, LockMode.exclusive, .shared] {
                for wait: Int64? in [nil, 0, 30_000] {
                    let acquire = AcquireRequest(name: name, leaseID: Self.lease, mode: mode, waitMilliseconds: wait)
                    #expect(Self.flat(AcquireRequest.self, try Self.foundation(acquire)) == acquire)
                }
            }
            for token: FencingToken? in [nil, FencingToken(1), FencingToken(UInt64(Int64.max))] {
                let release = ReleaseRequest(name: name, leaseID: Self.lease, token: token)
                #expect(Self.flat(ReleaseRequest.self, try Self.foundation(release)) == release)
            }
        }
        for header in [
            LockSessionRequestHeader(id: 0, method: "POST", path: "/locks/acquire"),
            LockSessionRequestHeader(id: 7, method: "GET", path: "/locks", query: "name=orders%2F42"),
            LockSessionRequestHeader(id: 8, method: "GET", path: "/\"quoted\"\\\t\u{1}", query: "é"),
        ] {
            #expect(Self.flat(LockSessionRequestHeader.self, try Self.foundation(header)) == header)
            #expect(Self.flat(LockSessionRequestHeader.self, header.line) == header)
        }
        // Readers disagree on a repeated name (JSONDecoder keeps the first value): left to JSONDecoder.
        let repeated = #"{"name":"first","lease_id":"\#(Self.lease.rawValue)","name":"last"}"#
        #expect(Self.flat(ReleaseRequest.self, repeated) == nil)
        let spaced = #" { "wait_ms" : 5 , "mode" : null, "lease_id" : "\#(Self.lease.rawValue)", "name" : "a\/b" } "#
        #expect(
            Self.flat(AcquireRequest.self, spaced)
                == AcquireRequest(name: "a/b", leaseID: Self.lease, waitMilliseconds: 5)
        )
    }

    @Test("what Foundation refuses is not read: the fast path gives up and JSONDecoder answers")
    func refusals() throws {
        let lease = Self.lease.rawValue
        let refused = [
            #"{"name":"a","lease_id":"\#(lease)","token":0}"#,  // tokens start at 1
            #"{"name":"a","lease_id":"\#(lease)","token":-3}"#,
            #"{"name":"a","lease_id":"\#(lease)","token":"5"}"#,
            #"{"name":"a","lease_id":"\#(lease)","token":1.5}"#,
            #"{"name":"a","lease_id":"NOTHEX"}"#,
            #"{"name":"","lease_id":"\#(lease)"}"#,
            #"{"lease_id":"\#(lease)"}"#,
            #"{"name":"a","lease_id":"\#(lease)"} trailing"#,
            "", "[]", "{",
        ]
        for text in refused {
            #expect(Self.flat(ReleaseRequest.self, text) == nil, "\(text)")
            #expect((try? JSONDecoder().decode(ReleaseRequest.self, from: Data(text.utf8))) == nil, "\(text)")
        }
        for text in [
            #"{"name":"a","lease_id":"\#(lease)","mode":"weird"}"#,
            #"{"name":"a","lease_id":"\#(lease)","wait_ms":"5"}"#,
            #"{"name":"a","lease_id":"\#(lease)","wait_ms":true}"#,
        ] {
            #expect(Self.flat(AcquireRequest.self, text) == nil, "\(text)")
            #expect((try? JSONDecoder().decode(AcquireRequest.self, from: Data(text.utf8))) == nil, "\(text)")
        }
        // Valid, but not flat: the fast path gives up, and JSONDecoder reads it (past the unknown member).
        let nested = #"{"name":"a","lease_id":"\#(lease)","extra":{"nested":1}}"#
        #expect(Self.flat(ReleaseRequest.self, nested) == nil)
        #expect(try JSONDecoder().decode(ReleaseRequest.self, from: Data(nested.utf8)).name == "a")
        #expect(Self.flat(LockSessionRequestHeader.self, #"{"id":-1,"method":"GET","path":"/x"}"#) == nil)
        #expect(Self.flat(LockSessionRequestHeader.self, #"{"id":1,"method":"GET"}"#) == nil)
    }

    @Test("answers are the JSON Foundation reads back as the same answers")
    func answers() throws {
        for name in Self.names {
            for outcome in [ReleaseResponse.Outcome.released, .alreadyReleased, .waitCancelled] {
                let release = ReleaseResponse(name: name, outcome: outcome)
                #expect(try JSONDecoder().decode(ReleaseResponse.self, from: Data(release.flatJSON.utf8)) == release)
            }
            for mode in LockMode.allCases {
                let grant = GrantResponse(
                    name: name,
                    leaseID: Self.lease,
                    token: FencingToken(UInt64.max),
                    mode: mode,
                    leaseRemainingMilliseconds: -1
                )
                #expect(try JSONDecoder().decode(GrantResponse.self, from: Data(grant.flatJSON.utf8)) == grant)
            }
        }
        let grant = GrantResponse(
            name: "a/b",
            leaseID: Self.lease,
            token: FencingToken(9),
            mode: .exclusive,
            leaseRemainingMilliseconds: 30
        )
        #expect(
            grant.flatJSON
                == #"{"name":"a/b","lease_id":"\#(Self.lease.rawValue)","token":9,"mode":"exclusive","lease_remaining_ms":30}"#
        )
    }

    @Test(
        "the client's side: its requests are what Foundation reads, the server's answers are read as Foundation reads them"
    )
    func clientSide() throws {
        for name in Self.names {
            for mode in [nil, LockMode.exclusive, .shared] {
                for wait: Int64? in [nil, 0, 30_000] {
                    let acquire = AcquireRequest(name: name, leaseID: Self.lease, mode: mode, waitMilliseconds: wait)
                    #expect(try JSONDecoder().decode(AcquireRequest.self, from: Data(acquire.flatJSON.utf8)) == acquire)
                }
            }
            for token: FencingToken? in [nil, FencingToken(1), FencingToken(UInt64(Int64.max))] {
                let release = ReleaseRequest(name: name, leaseID: Self.lease, token: token)
                #expect(try JSONDecoder().decode(ReleaseRequest.self, from: Data(release.flatJSON.utf8)) == release)
            }
            for mode in LockMode.allCases {
                let grant = GrantResponse(
                    name: name,
                    leaseID: Self.lease,
                    token: FencingToken(42),
                    mode: mode,
                    leaseRemainingMilliseconds: 29_998
                )
                #expect(Self.flat(GrantResponse.self, try Self.foundation(grant)) == grant)
                #expect(Self.flat(GrantResponse.self, grant.flatJSON) == grant)
            }
            for outcome in [ReleaseResponse.Outcome.released, .alreadyReleased, .waitCancelled] {
                let release = ReleaseResponse(name: name, outcome: outcome)
                #expect(Self.flat(ReleaseResponse.self, try Self.foundation(release)) == release)
            }
        }
        for header in [
            LockSessionResponseHeader(id: 7, status: 200, requestID: "9b0e"),
            LockSessionResponseHeader(id: nil, status: 400, requestID: "x"),
        ] {
            #expect(Self.flat(LockSessionResponseHeader.self, header.line) == header)
            #expect(Self.flat(LockSessionResponseHeader.self, try Self.foundation(header)) == header)
        }
        let lease = Self.lease.rawValue
        for refused in [
            #"{"name":"a","lease_id":"\#(lease)","token":0,"mode":"exclusive","lease_remaining_ms":1}"#,
            #"{"name":"a","lease_id":"\#(lease)","token":1,"mode":"both","lease_remaining_ms":1}"#,
            #"{"name":"a","lease_id":"\#(lease)","token":1,"mode":"shared"}"#,
        ] {
            #expect(Self.flat(GrantResponse.self, refused) == nil, "\(refused)")
            #expect((try? JSONDecoder().decode(GrantResponse.self, from: Data(refused.utf8))) == nil, "\(refused)")
        }
        #expect(Self.flat(ReleaseResponse.self, #"{"name":"a","outcome":"kept"}"#) == nil)
        #expect(Self.flat(LockSessionResponseHeader.self, #"{"id":-1,"status":200,"request_id":"r"}"#) == nil)
        #expect(Self.flat(LockSessionResponseHeader.self, #"{"status":"200","request_id":"r"}"#) == nil)
    }
}
