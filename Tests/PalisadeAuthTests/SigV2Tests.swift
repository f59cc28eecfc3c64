import Foundation
import PalisadeAuth
import Testing

@Suite("SigV2: AWS's string to sign and signatures, and the verifier's checks")
struct SigV2Tests {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    let date = "Tue, 27 Mar 2007 19:36:42 +0000"

    @Test("AWS's published GetObject example, virtual-host and path style")
    func publishedExample() {
        let resource = SigV2.canonicalResource(
            bucketFromHost: "awsexamplebucket1",
            path: "/photos/puppy.jpg",
            query: ""
        )
        let text = SigV2.stringToSign(method: "GET", headers: [("Date", date)], date: date, resource: resource)
        #expect(text == "GET\n\n\n\(date)\n/awsexamplebucket1/photos/puppy.jpg")
        #expect(SigV2.signature(stringToSign: text, secret: secret) == "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=")
        let pathStyle = SigV2.canonicalResource(bucketFromHost: nil, path: "/johnsmith/photos/puppy.jpg", query: "")
        let other = SigV2.stringToSign(method: "GET", headers: [], date: date, resource: pathStyle)
        #expect(SigV2.signature(stringToSign: other, secret: secret) == "bWq2s1WEIj+Ydj0vQ697zp+IXMU=")
    }

    @Test("only sub-resources enter the resource, sorted, their values decoded; x-amz-* headers sorted and joined")
    func canonicalForms() {
        let resource = SigV2.canonicalResource(
            bucketFromHost: nil,
            path: "/b/k%20x",
            query: "uploadId=abc&partNumber=2&list-type=2&response-content-type=a%2Fb&prefix=p"
        )
        #expect(resource == "/b/k%20x?partNumber=2&response-content-type=a/b&uploadId=abc")
        let text = SigV2.stringToSign(
            method: "PUT",
            headers: [
                ("Content-Type", "text/plain"), ("X-Amz-Meta-B", " 2 "), ("x-amz-meta-a", "1"), ("x-amz-meta-a", "3"),
                ("Content-MD5", "md5"),
            ],
            date: "",
            resource: "/b/k"
        )
        #expect(text == "PUT\nmd5\ntext/plain\n\nx-amz-meta-a:1,3\nx-amz-meta-b:2\n/b/k")
    }

    @Test("the verifier accepts what was signed, and refuses a changed header, a wrong key, skew and expiry")
    func verifier() throws {
        let verifier = SigV4Verifier(credentials: [SigV4Credentials(accessKeyID: "AKID", secretAccessKey: secret)])
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let sent = "Fri, 15 Jan 2027 08:00:00 GMT"  // = now
        let headers = [("Date", sent), ("x-amz-meta-owner", "a")]
        let signature = SigV2.signature(
            stringToSign: SigV2.stringToSign(method: "PUT", headers: headers, date: sent, resource: "/b/k"),
            secret: secret
        )
        func verify(_ headers: [(String, String)], at time: Date = now) throws(SigV4Error) -> SigV4Verifier.Verified {
            try verifier.verifyV2(
                method: "PUT",
                path: "/b/k",
                query: "",
                headers: headers.map { (name: $0.0, value: $0.1) } + [
                    (name: "Authorization", value: "AWS AKID:\(signature)")
                ],
                bucketFromHost: nil,
                now: time
            )
        }
        #expect(try verify(headers).accessKeyID == "AKID")
        #expect(throws: SigV4Error.self) { try verify([("Date", sent), ("x-amz-meta-owner", "b")]) }
        #expect(throws: SigV4Error.self) { try verify(headers + [("x-amz-copy-source", "/b/other")]) }
        #expect(throws: SigV4Error.self) { try verify(headers, at: now.addingTimeInterval(16 * 60)) }
        let expires = String(Int(now.timeIntervalSince1970) + 60)
        let presigned = SigV2.signature(
            stringToSign: SigV2.stringToSign(method: "GET", headers: [], date: expires, resource: "/b/k"),
            secret: secret
        )
        let query =
            "AWSAccessKeyId=AKID&Expires=\(expires)&Signature=\(presigned.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
        func presignedGET(at time: Date) throws(SigV4Error) -> SigV4Verifier.Verified {
            try verifier.verifyV2(
                method: "GET",
                path: "/b/k",
                query: query,
                headers: [],
                bucketFromHost: nil,
                now: time
            )
        }
        #expect(try presignedGET(at: now).accessKeyID == "AKID")
        #expect(throws: SigV4Error.self) { try presignedGET(at: now.addingTimeInterval(61)) }
    }
}
