import Foundation
import PalisadeProtocol

@testable import PalisadeHTTP

/// libFuzzer target: the lock API's JSON bodies and lock session messages on arbitrary bytes.
/// Nothing may crash, and every refusal maps to a documented lock API error code.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    func check<T: Decodable>(_ type: T.Type) {
        do {
            _ = try JSONDecoder().decode(T.self, from: bytes)
        } catch let error as DecodingError {
            let answer = LockAPIError(error, body: bytes)
            guard LockAPIErrorCode.all.contains(answer.code), answer.status.code == 400 else {
                fatalError("undocumented answer \(answer.status.code) \(answer.code)")
            }
        } catch {
            fatalError("a decoder threw \(error)")
        }
    }
    check(GrantLeaseRequest.self)
    check(AcquireRequest.self)
    check(ReleaseRequest.self)
    check(ValidateRequest.self)
    check(WatchRequest.self)
    check(ForceReleaseRequest.self)
    check(SetFencingRequest.self)
    let message = String(decoding: bytes, as: UTF8.self)
    let (header, _) = LockSessionMessage.split(message[...])
    _ = try? JSONDecoder().decode(LockSessionRequestHeader.self, from: Data(header.utf8))
    return 0
}
