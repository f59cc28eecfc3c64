import Foundation
import PalisadeAuth
import Testing

@Suite("AWS Signature V4")
struct SigV4Tests {
    static let credentials = SigV4Credentials(
        accessKeyID: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    )
    static let signedAt = AmzDate("20150830T123600Z")!.date

    @Test("AWS's published get-vanilla test vector")
    func getVanilla() {
        let headers = SigV4Signer(credentials: Self.credentials, region: "us-east-1", service: "service")
            .signatureHeaders(
                method: "GET",
                path: "/",
                query: "",
                headers: [("Host", "example.amazonaws.com")],
                payloadHash: SigV4.emptyPayloadHash,
                date: Self.signedAt
            )
        // The published vector does not sign x-amz-content-sha256, so rebuild its exact string to sign.
        let canonical = SigV4.canonicalRequest(
            method: "GET",
            path: "/",
            query: "",
            headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
            signedHeaders: ["host", "x-amz-date"],
            payloadHash: SigV4.emptyPayloadHash
        )
        let key = SigV4.signingKey(
            secret: Self.credentials.secretAccessKey,
            date: "20150830",
            region: "us-east-1",
            service: "service"
        )
        let signature = SigV4.signature(
            stringToSign: SigV4.stringToSign(
                canonicalRequest: canonical,
                timestamp: "20150830T123600Z",
                scope: "20150830/us-east-1/service/aws4_request"
            ),
            key: key
        )
        #expect(signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(headers.first { $0.name == "x-amz-date" }?.value == "20150830T123600Z")
    }

    @Test("the signer agrees with botocore's S3 signer on a request with a body and an encoded query")
    func matchesBotocore() throws {
        let body = Data(#"{"name":"a"}"#.utf8)
        let headers = SigV4Signer(credentials: Self.credentials).signatureHeaders(
            method: "POST",
            path: "/_palisade/v1/locks/acquire",
            query: "b=2&a=x%20y%2Fz",
            headers: [("Content-Type", "application/json"), ("Host", "127.0.0.1:9000")],
            payloadHash: SigV4.hexSHA256(body),
            date: Self.signedAt
        )
        let authorization = try #require(headers.first { $0.name == "authorization" }?.value)
        // Computed with botocore 1.43 S3SigV4Auth for the same request and timestamp.
        #expect(authorization.hasSuffix("Signature=c8ccad0c8109715440eb2448fdc96641692d43557bd21be4f13ed4c3aa2f5654"))
        #expect(authorization.contains("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date"))
    }

    @Test("canonical queries decode, re-encode and sort; a plus sign stays a plus")
    func canonicalQuery() {
        #expect(SigV4.canonicalQuery("b=2&a=x y&a=1&c") == "a=1&a=x%20y&b=2&c=")
        #expect(SigV4.canonicalQuery("name=a%2fb+c") == "name=a%2Fb%2Bc")
        #expect(SigV4.canonicalQuery("") == "")
        #expect(SigV4.uriEncode("é/~", keepSlash: true) == "%C3%A9/~")
        #expect(SigV4.uriEncode("a/b c") == "a%2Fb%20c")
        #expect(SigV4.uriEncode("plain-key_1.txt~") == "plain-key_1.txt~")
    }

    @Test("timestamps round-trip, including leap days and the far future")
    func amzDate() {
        for text in ["20150830T123600Z", "20240229T000000Z", "19700101T000000Z", "20991231T235959Z"] {
            #expect(AmzDate(text)?.timestamp == text)
        }
        #expect(AmzDate("20150830T123600Z")?.secondsSince1970 == 1_440_938_160)
        #expect(AmzDate("20240229T000000Z")?.day == "20240229")
        #expect(AmzDate(Date(timeIntervalSince1970: 253_402_300_800)).timestamp == "100000101T000000Z")
        #expect(AmzDate("2015-08-30T12:36:00Z") == nil)
        #expect(AmzDate("20151330T123600Z") == nil)
    }

    func signedRequest(
        secret: String = credentials.secretAccessKey,
        body: String = "{}",
        at date: Date = signedAt
    )
        -> [(name: String, value: String)]
    {
        let signer = SigV4Signer(
            credentials: SigV4Credentials(accessKeyID: Self.credentials.accessKeyID, secretAccessKey: secret)
        )
        let headers: [(name: String, value: String)] = [
            ("host", "127.0.0.1:9000"), ("content-type", "application/json"),
        ]
        return headers
            + signer.signatureHeaders(
                method: "POST",
                path: "/_palisade/v1/leases",
                query: "",
                headers: headers,
                payloadHash: SigV4.hexSHA256(Data(body.utf8)),
                date: date
            )
    }

    func verify(
        _ headers: [(name: String, value: String)],
        body: String = "{}",
        now: Date = signedAt
    ) throws(SigV4Error)
        -> SigV4Verifier.Verified
    {
        try SigV4Verifier(credentials: [Self.credentials]).verify(
            method: "POST",
            path: "/_palisade/v1/leases",
            query: "",
            headers: headers,
            bodyHash: SigV4.hexSHA256(Data(body.utf8)),
            now: now
        )
    }

    @Test("the verifier accepts what the signer signed")
    func roundTrip() throws {
        #expect(try verify(signedRequest()).accessKeyID == "AKIDEXAMPLE")
    }

    @Test("request headers: the given ones lower-cased, then the signature's; host is signed but left to the client")
    func requestHeaders() throws {
        let sent = SigV4Signer(credentials: Self.credentials).requestHeaders(
            method: "POST",
            path: "/_palisade/v1/leases",
            query: "",
            host: "127.0.0.1:9000",
            headers: [("Content-Type", "application/json")],
            payloadHash: SigV4.hexSHA256(Data("{}".utf8))
        )
        #expect(sent.map(\.name) == ["content-type", "x-amz-date", "x-amz-content-sha256", "authorization"])
        #expect(try verify([("host", "127.0.0.1:9000")] + sent, now: Date()).accessKeyID == "AKIDEXAMPLE")
        #expect(throws: SigV4Error.self) { try verify([("host", "127.0.0.1:9001")] + sent, now: Date()) }
    }

    @Test("header names match in any case: capitals verify, an unsigned X-Amz-* header in any case is refused")
    func headerNameCase() throws {
        let capitals = signedRequest().map { (name: $0.name.uppercased(), value: $0.value) }
        #expect(try verify(capitals).accessKeyID == "AKIDEXAMPLE")
        for added in ["X-Amz-Meta-Owner", "x-AMZ-copy-source"] {
            do {
                _ = try verify(signedRequest() + [(added, "mallory")])
                Issue.record("\(added) was accepted unsigned")
            } catch {
                #expect(error.code == .headersNotSigned && error.message.contains(added.lowercased()))
            }
        }
        #expect(try verify(signedRequest() + [("x-amzfoo", "other")]).accessKeyID == "AKIDEXAMPLE")
    }

    @Test("header values are trimmed and their inner runs of spaces collapsed, as AWS's get-header-value-trim vector")
    func headerValueTrim() {
        let canonical = SigV4.canonicalRequest(
            method: "GET",
            path: "/",
            query: "",
            headers: [
                ("Host", "example.amazonaws.com"), ("My-Header1", " value1"), ("My-Header2", "\"a   b \t c\"  "),
                ("X-Amz-Date", "20150830T123600Z"),
            ],
            signedHeaders: ["host", "my-header1", "my-header2", "x-amz-date"],
            payloadHash: SigV4.emptyPayloadHash
        )
        #expect(
            canonical == """
                GET
                /

                host:example.amazonaws.com
                my-header1:value1
                my-header2:"a b c"
                x-amz-date:20150830T123600Z

                host;my-header1;my-header2;x-amz-date
                \(SigV4.emptyPayloadHash)
                """
        )
        for (value, canonicalValue) in [
            ("   ", ""), ("v ", "v"), (" v", "v"), ("a\tb", "a b"), ("a b", "a b"), ("", ""),
        ] {
            let text = SigV4.canonicalRequest(
                method: "GET",
                path: "/",
                query: "",
                headers: [("h", value)],
                signedHeaders: ["h"],
                payloadHash: "-"
            )
            #expect(text == "GET\n/\n\nh:\(canonicalValue)\n\nh\n-", "value \(value.debugDescription)")
        }
    }

    @Test("the verifier reads an Authorization header whose fields are spaced differently, in any order")
    func authorizationSpacing() throws {
        let respaced = signedRequest().map { header in
            guard header.name == "authorization" else { return header }
            let fields = header.value.dropFirst(SigV4.algorithm.count + 1).split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            return (name: header.name, value: SigV4.algorithm + "  " + fields.reversed().joined(separator: " ,\t"))
        }
        #expect(try verify(respaced).accessKeyID == "AKIDEXAMPLE")
    }

    @Test("the verifier refuses each kind of bad request with its own code")
    func refusals() {
        func code(_ body: () throws -> Void) -> SigV4Error.Code? {
            do { try body() } catch { return (error as? SigV4Error)?.code }
            return nil
        }
        #expect(code { _ = try verify([("host", "x")]) } == .missingAuthentication)
        #expect(code { _ = try verify(signedRequest(secret: "wrong")) } == .signatureDoesNotMatch)
        #expect(code { _ = try verify(signedRequest(), body: "{\"tampered\":1}") } == .contentSHA256Mismatch)
        #expect(
            code { _ = try verify(signedRequest(), now: Self.signedAt.addingTimeInterval(16 * 60)) }
                == .requestTimeTooSkewed
        )
        #expect(code { _ = try verify(signedRequest(), now: Self.signedAt.addingTimeInterval(14 * 60)) } == nil)
        let otherKey = signedRequest().map { header in
            (name: header.name, value: header.value.replacingOccurrences(of: "AKIDEXAMPLE", with: "NOBODY"))
        }
        #expect(code { _ = try verify(otherKey) } == .invalidAccessKeyID)
        #expect(
            code { _ = try verify([("host", "x"), ("authorization", "Basic Zm9vOmJhcg==")]) }
                == .authorizationHeaderMalformed
        )
        let withoutSignature = signedRequest().map { header in
            (name: header.name, value: header.value.replacingOccurrences(of: "Signature=", with: "Sig="))
        }
        #expect(code { _ = try verify(withoutSignature) } == .authorizationHeaderMalformed)
    }
}
