import Foundation

@testable import PalisadeHTTP

/// libFuzzer target: the S3 XML reader (DeleteObjects, CompleteMultipartUpload,
/// CreateBucketConfiguration bodies) on arbitrary bytes, and the writer's escaping: nothing may
/// crash, and any text written into a document reads back the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    if let document = try? S3XML.parse(bytes) {
        _ = document.all("Object").compactMap { $0.child("Key")?.text }
    }
    let text = String(decoding: bytes, as: UTF8.self)
    // XML 1.0 cannot carry most control characters at all, escaped or not.
    guard text.unicodeScalars.allSatisfy({ $0.value >= 0x20 || $0 == "\n" || $0 == "\t" }), !text.contains("\r") else {
        return 0
    }
    let written = S3XML.document("Delete", [.element("Object", [.text("Key", text)])], namespaced: false)
    guard let read = try? S3XML.parse(Data(written.utf8)), read.child("Object")?.child("Key")?.text == text else {
        fatalError("the key \(text.debugDescription) did not survive the XML round trip")
    }
    return 0
}
