/// Request headers that ask for S3 features Palisade does not have. Each is refused with
/// `501 NotImplemented` (or, for a value S3 itself would reject, S3's error), so that no write
/// succeeds while silently dropping what it asked for — retention, encryption, tags, a storage class.
/// Values that mean the default are accepted (`x-amz-acl: private`, `STANDARD`, a legal hold `OFF`).
enum UnsupportedFeatures {
    /// The canned ACLs S3 knows; only `private` is what Palisade does.
    static let cannedACLs: Set<String> = [
        "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read",
        "bucket-owner-full-control", "log-delivery-write",
    ]
    /// The storage classes S3 knows; only `STANDARD` is what Palisade does.
    static let storageClasses: Set<String> = [
        "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
        "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE",
    ]
    static let grantHeaders = [
        "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
        "x-amz-grant-full-control",
    ]
    static let customerKeyHeaders = [
        "x-amz-server-side-encryption-customer-algorithm", "x-amz-server-side-encryption-customer-key",
        "x-amz-server-side-encryption-customer-key-md5",
    ]
    static let copySourceCustomerKeyHeaders = customerKeyHeaders.map {
        $0.replacingOccurrences(of: "x-amz-", with: "x-amz-copy-source-")
    }

    /// Refuses a write of object data (PutObject, CopyObject, CreateMultipartUpload) that asks for
    /// retention, a legal hold, encryption, tags, a storage class, an ACL or a website redirect.
    static func refuseInObjectWrite(_ s3: S3Request) throws {
        try refuseACL(s3)
        if let value = s3.header("x-amz-storage-class") {
            guard storageClasses.contains(value) else {
                throw S3Error(.badRequest, "InvalidStorageClass", "the storage class you specified is not valid")
            }
            if value != "STANDARD" { throw S3Error.notImplemented("the storage class \(value)") }
        }
        if let value = s3.header("x-amz-server-side-encryption") {
            guard ["AES256", "aws:kms", "aws:kms:dsse"].contains(value) else {
                throw S3Error.invalidArgument("the encryption method specified is not supported")
            }
            throw S3Error.notImplemented("server-side encryption (x-amz-server-side-encryption)")
        }
        for name in [
            "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-server-side-encryption-context",
            "x-amz-server-side-encryption-bucket-key-enabled",
        ] where s3.header(name) != nil {
            throw S3Error.notImplemented("server-side encryption (\(name))")
        }
        try refuseCustomerKeys(s3)
        if s3.header("x-amz-object-lock-mode") != nil || s3.header("x-amz-object-lock-retain-until-date") != nil {
            throw S3Error.notImplemented("object retention (x-amz-object-lock-mode)")
        }
        if let hold = s3.header("x-amz-object-lock-legal-hold"), hold.uppercased() != "OFF" {
            throw S3Error.notImplemented("a legal hold (x-amz-object-lock-legal-hold)")
        }
        if s3.header("x-amz-tagging") != nil || s3.header("x-amz-tagging-directive")?.uppercased() == "REPLACE" {
            throw S3Error.notImplemented("object tags (x-amz-tagging)")
        }
        if s3.header("x-amz-website-redirect-location") != nil {
            throw S3Error.notImplemented("website redirects (x-amz-website-redirect-location)")
        }
    }

    /// Refuses a CreateBucket that asks for object lock, a public ACL or grants, or an ownership
    /// setting other than the default `BucketOwnerEnforced`.
    static func refuseInBucketCreation(_ s3: S3Request) throws {
        try refuseACL(s3)
        if s3.header("x-amz-bucket-object-lock-enabled")?.lowercased() == "true" {
            throw S3Error.notImplemented("object lock (x-amz-bucket-object-lock-enabled)")
        }
        if let ownership = s3.header("x-amz-object-ownership"), ownership != "BucketOwnerEnforced" {
            throw S3Error.notImplemented("the object ownership \(ownership)")
        }
    }

    /// Refuses a request that sends a customer-provided encryption key (SSE-C): Palisade never
    /// encrypted anything with it, so neither a write nor a read may pretend it did.
    static func refuseCustomerKeys(_ s3: S3Request) throws {
        for name in customerKeyHeaders + copySourceCustomerKeyHeaders where s3.header(name) != nil {
            throw S3Error.notImplemented("server-side encryption with customer keys (\(name))")
        }
    }

    private static func refuseACL(_ s3: S3Request) throws {
        if let acl = s3.header("x-amz-acl") {
            guard cannedACLs.contains(acl) else { throw S3Error.invalidArgument("the canned ACL \(acl) is not valid") }
            if acl != "private" { throw S3Error.notImplemented("the canned ACL \(acl)") }
        }
        if let grant = grantHeaders.first(where: { s3.header($0) != nil }) {
            throw S3Error.notImplemented("access grants (\(grant))")
        }
    }
}
