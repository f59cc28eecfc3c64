import Crypto
import Foundation
import NIOCore
import PalisadeSupport
import StorageCore

/// Computes, chunk by chunk, every digest a write needs: MD5 for the ETag, SHA-256 for a signed
/// payload, and any `x-amz-checksum-*` algorithms.
struct Digests {
    private var md5 = Insecure.MD5()
    private var sha256: SHA256?
    private var sha1: Insecure.SHA1?
    private var crc32: UInt32?
    private var crc32c: UInt32?
    private var crc64: UInt64?
    private(set) var size: Int64 = 0

    init(algorithms: Set<ChecksumAlgorithm>, payloadSHA256: Bool) {
        if payloadSHA256 || algorithms.contains(.sha256) { sha256 = SHA256() }
        if algorithms.contains(.sha1) { sha1 = Insecure.SHA1() }
        if algorithms.contains(.crc32) { crc32 = 0 }
        if algorithms.contains(.crc32c) { crc32c = 0 }
        if algorithms.contains(.crc64nvme) { crc64 = 0 }
    }

    mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            md5.update(bufferPointer: bytes)
            sha256?.update(bufferPointer: bytes)
            sha1?.update(bufferPointer: bytes)
            if let value = crc32 { crc32 = CRC.crc32(value, bytes) }
            if let value = crc32c { crc32c = CRC.crc32c(value, bytes) }
            if let value = crc64 { crc64 = CRC.crc64nvme(value, bytes) }
        }
        size += Int64(buffer.readableBytes)
    }

    /// Hex MD5, the ETag of a single PUT.
    func md5Hex() -> String { md5.finalize().withUnsafeBytes(Hex.lowercase) }
    /// MD5 in base64, as `Content-MD5` carries it.
    func md5Base64() -> String { base64(Array(md5.finalize())) }
    /// Hex SHA-256 of the payload.
    func sha256Hex() -> String? { sha256.map { $0.finalize().withUnsafeBytes(Hex.lowercase) } }

    /// The base64 value of `algorithm`, as `x-amz-checksum-*` carries it.
    func checksum(_ algorithm: ChecksumAlgorithm) -> String? {
        switch algorithm {
        case .crc32: crc32.map { base64(bigEndianBytes($0)) }
        case .crc32c: crc32c.map { base64(bigEndianBytes($0)) }
        case .crc64nvme: crc64.map { base64(bigEndianBytes($0)) }
        case .sha1: sha1.map { base64(Array($0.finalize())) }
        case .sha256: sha256.map { base64(Array($0.finalize())) }
        }
    }
}

extension MultipartChecksum {
    /// The object's checksum made from its parts' (base64, in order, with their sizes): the
    /// checksum of the parts' checksums followed by `-N` for a composite type; for a full-object
    /// type the CRC of all the bytes, combined from the parts' CRCs. Nil if a part's value is not
    /// a checksum of the algorithm.
    func objectValue(partChecksums: [String], partSizes: [Int64]) -> String? {
        let decoded = partChecksums.compactMap { Data(base64Encoded: $0).map(Array.init) }
        guard decoded.count == partChecksums.count, decoded.count == partSizes.count else { return nil }
        switch type {
        case .composite:
            var digests = Digests(algorithms: [algorithm], payloadSHA256: false)
            digests.update(ByteBuffer(bytes: decoded.joined()))
            return digests.checksum(algorithm).map { "\($0)-\(decoded.count)" }
        case .fullObject:
            switch algorithm {
            case .crc32: return Self.combined(decoded, partSizes, polynomial: CRC.crc32Polynomial)
            case .crc32c: return Self.combined(decoded, partSizes, polynomial: CRC.crc32cPolynomial)
            case .crc64nvme: return Self.combined(decoded, partSizes, polynomial: CRC.crc64nvmePolynomial)
            case .sha1, .sha256: return nil
            }
        }
    }

    private static func combined<Value: FixedWidthInteger & UnsignedInteger>(
        _ parts: [[UInt8]],
        _ sizes: [Int64],
        polynomial: Value
    ) -> String? {
        var crc: Value = 0
        for (bytes, size) in zip(parts, sizes) {
            guard bytes.count == Value.bitWidth / 8 else { return nil }
            let value = bytes.reduce(Value(0)) { $0 << 8 | Value($1) }
            crc = CRC.combine(crc, value, secondLength: size, polynomial: polynomial)
        }
        return base64(bigEndianBytes(crc))
    }
}

func base64(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
}

private func bigEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}

/// Table-driven reflected CRCs: CRC-32 (zlib), CRC-32C (Castagnoli) and CRC-64/NVME.
enum CRC {
    static let crc32Polynomial: UInt32 = 0xEDB8_8320
    static let crc32cPolynomial: UInt32 = 0x82F6_3B78
    static let crc64nvmePolynomial: UInt64 = 0x9A6C_9329_AC4B_C9B5
    static let crc32Table = makeTable32(polynomial: crc32Polynomial)
    static let crc32cTable = makeTable32(polynomial: crc32cPolynomial)
    static let crc64Table = makeTable64(polynomial: crc64nvmePolynomial)

    static func crc32(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 { update32(crc, bytes, crc32Table) }
    static func crc32c(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 { update32(crc, bytes, crc32cTable) }

    static func crc64nvme(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var value = ~crc
        for byte in bytes { value = crc64Table[Int(UInt8(truncatingIfNeeded: value) ^ byte)] ^ (value >> 8) }
        return ~value
    }

    /// The CRC of two byte strings one after the other, from each one's CRC and the second's
    /// length (zlib's `crc32_combine`): for CRC-32, CRC-32C and CRC-64/NVME alike, whose initial
    /// value and final XOR are all ones.
    static func combine<Value: FixedWidthInteger & UnsignedInteger>(
        _ first: Value,
        _ second: Value,
        secondLength: Int64,
        polynomial: Value
    ) -> Value {
        multiply(xToThe8Times(secondLength, polynomial: polynomial), first, polynomial: polynomial) ^ second
    }

    /// x^(8·n) modulo the polynomial, in the reflected bit order of the tables.
    private static func xToThe8Times<Value: FixedWidthInteger & UnsignedInteger>(
        _ n: Int64,
        polynomial: Value
    ) -> Value {
        var result: Value = 1 << (Value.bitWidth - 1)  // x^0
        var power: Value = 1 << (Value.bitWidth - 2)  // x^1
        for _ in 0..<3 { power = multiply(power, power, polynomial: polynomial) }  // x^8
        var remaining = n
        while remaining > 0 {
            if remaining & 1 == 1 { result = multiply(power, result, polynomial: polynomial) }
            power = multiply(power, power, polynomial: polynomial)
            remaining >>= 1
        }
        return result
    }

    /// a(x)·b(x) modulo the polynomial, reflected.
    private static func multiply<Value: FixedWidthInteger & UnsignedInteger>(
        _ a: Value,
        _ b: Value,
        polynomial: Value
    ) -> Value {
        var product: Value = 0
        var multiplier = b
        var mask: Value = 1 << (Value.bitWidth - 1)
        while mask != 0 {
            if a & mask != 0 { product ^= multiplier }
            multiplier = multiplier & 1 == 1 ? (multiplier >> 1) ^ polynomial : multiplier >> 1
            mask >>= 1
        }
        return product
    }

    private static func update32(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer, _ table: [UInt32]) -> UInt32 {
        var value = ~crc
        for byte in bytes { value = table[Int(UInt8(truncatingIfNeeded: value) ^ byte)] ^ (value >> 8) }
        return ~value
    }

    private static func makeTable32(polynomial: UInt32) -> [UInt32] {
        (0..<256).map { index in
            var value = UInt32(index)
            for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ polynomial : value >> 1 }
            return value
        }
    }

    private static func makeTable64(polynomial: UInt64) -> [UInt64] {
        (0..<256).map { index in
            var value = UInt64(index)
            for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ polynomial : value >> 1 }
            return value
        }
    }
}
