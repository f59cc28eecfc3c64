import Foundation
import PalisadeAuth
import Testing

@Suite("AccessPolicy: the IAM subset")
struct AccessPolicyTests {
    func policy(_ json: String) throws -> AccessPolicy {
        try AccessPolicy(json: JSONSerialization.jsonObject(with: Data(json.utf8)))
    }

    @Test("Allow grants what it names, with * and ? wildcards; actions ignore case, resources do not")
    func allow() throws {
        let reader = try policy(
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*"],"Resource":"arn:aws:s3:::data/pub?ic/*"}]}"#
        )
        #expect(reader.allows("s3:GetObject", on: "arn:aws:s3:::data/public/a/b"))
        #expect(reader.allows("S3:GETOBJECT", on: "arn:aws:s3:::data/public/x"))
        #expect(!reader.allows("s3:PutObject", on: "arn:aws:s3:::data/public/x"))
        #expect(!reader.allows("s3:GetObject", on: "arn:aws:s3:::data/private/x"))
        #expect(!reader.allows("s3:GetObject", on: "arn:aws:s3:::DATA/public/x"))
        #expect(!reader.allows("s3:GetObject", on: "arn:aws:s3:::data/public"))
    }

    @Test("Deny wins over Allow, and nothing is allowed unless a statement allows it")
    func deny() throws {
        let all = try policy(
            #"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"palisade:ForceReleaseLock","Resource":"arn:palisade:lock:::prod/*"}]}"#
        )
        #expect(all.allows("palisade:ForceReleaseLock", on: "arn:palisade:lock:::dev/a"))
        #expect(!all.allows("palisade:ForceReleaseLock", on: "arn:palisade:lock:::prod/a"))
        #expect(!(try policy(#"{"Statement":[]}"#)).allows("s3:GetObject", on: "arn:aws:s3:::b/k"))
    }

    @Test(
        "what the subset does not understand is refused when read, never ignored",
        arguments: [
            #"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]}"#,
            #"{"Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}]}"#,
            #"{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#,
            #"{"Version":"2008-10-17","Statement":[]}"#,
            #"{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#,
            #"[]"#,
        ]
    )
    func refused(json: String) {
        #expect(throws: AccessPolicyError.self) { try policy(json) }
    }
}
