// Imported for its link directive: the binary needs libuuid.so.1 (uuid-dev).
import CUUID

#if canImport(Glibc)
import Glibc
#endif

/// Random (version 4) UUIDs from libuuid, for lease, upload and version ids. On Debian 12
/// libuuid draws from `getrandom()`: no file is opened per id (`palisade bench ids`;
/// `Tests/Interop/test_ids.py` watches the system calls).
public enum RandomUUID {
    /// A new random UUID as 32 lowercase hex digits (`uuid_unparse_lower` without the dashes).
    public static func hex() -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16 + 37) { buffer in
            let uuid = buffer.baseAddress!
            let text = uuid + 16
            LibUUID.generateRandom(uuid)
            LibUUID.unparseLower(uuid, text)
            return String(unsafeUninitializedCapacity: 32) { digits in
                var count = 0
                for index in 0..<36 where text[index] != UInt8(ascii: "-") {
                    digits[count] = text[index]
                    count += 1
                }
                return count
            }
        }
    }
}

extension RandomUUID {
    /// Whether `text` is an id ``hex()`` could have made — 32 hex digits that libuuid's
    /// `uuid_parse` reads as a UUID — so an id a client sends back is checked before it is looked up.
    public static func isWellFormed(hex text: String) -> Bool {
        let digits = Array(text.utf8)
        guard digits.count == 32 else { return false }
        var dashed = [UInt8]()
        dashed.reserveCapacity(37)
        for (index, digit) in digits.enumerated() {
            if index == 8 || index == 12 || index == 16 || index == 20 { dashed.append(UInt8(ascii: "-")) }
            dashed.append(digit)
        }
        dashed.append(0)
        var uuid = [UInt8](repeating: 0, count: 16)
        return dashed.withUnsafeBufferPointer { text in
            uuid.withUnsafeMutableBufferPointer { LibUUID.parse(text.baseAddress, $0.baseAddress) == 0 }
        }
    }
}

/// libuuid's own functions, looked up in libuuid.so.1 itself. Calling `uuid_generate_random` by
/// name does not reach them: Foundation on Linux exports functions of the same names (its
/// CoreFoundation carries an old copy of libuuid that opens `/dev/urandom` for every id), it is
/// loaded first, and the dynamic linker binds a name to the first definition it finds.
enum LibUUID {
    typealias Generate = @convention(c) (UnsafeMutablePointer<UInt8>?) -> Void
    typealias Unparse = @convention(c) (UnsafePointer<UInt8>?, UnsafeMutablePointer<UInt8>?) -> Void

    static let generateRandom: Generate = function("uuid_generate_random")
    typealias Parse = @convention(c) (UnsafePointer<UInt8>?, UnsafeMutablePointer<UInt8>?) -> Int32

    static let unparseLower: Unparse = function("uuid_unparse_lower")
    static let parse: Parse = function("uuid_parse")

    private static func function<Function>(_ name: String) -> Function {
        guard let library = dlopen("libuuid.so.1", RTLD_NOW | RTLD_LOCAL), let symbol = dlsym(library, name) else {
            fatalError("libuuid.so.1 does not provide \(name): install libuuid1")
        }
        return unsafeBitCast(symbol, to: Function.self)
    }
}
