import PalisadeAuth

extension S3Gateway {
    /// What an S3 request needs its key's policy to allow, with S3's action names
    /// (`Protocol/security.md`). DeleteObjects is checked key by key where it deletes.
    static func permissions(for s3: S3Request) throws -> [Permission] {
        guard let bucket = s3.bucket else { return [.s3("s3:ListAllMyBuckets", bucket: "*")] }
        guard let key = s3.key else {
            let action =
                switch s3.method {
                case .put: "s3:CreateBucket"
                case .delete: "s3:DeleteBucket"
                case .get where s3.query["uploads"] != nil: "s3:ListBucketMultipartUploads"
                case .get where s3.query["versioning"] != nil: "s3:GetBucketVersioning"
                case .post where s3.query["delete"] != nil: ""
                default: "s3:ListBucket"
                }
            return action.isEmpty ? [] : [.s3(action, bucket: bucket)]
        }
        let action: String =
            switch s3.method {
            case .get where s3.query["uploadId"] != nil: "s3:ListMultipartUploadParts"
            case .get, .head: "s3:GetObject"
            case .delete where s3.query["uploadId"] != nil: "s3:AbortMultipartUpload"
            case .delete: "s3:DeleteObject"
            default: "s3:PutObject"
            }
        var needed = [Permission.s3(action, bucket: bucket, key: key)]
        if s3.method == .put, let header = s3.header("x-amz-copy-source") {
            let source = try copySource(header)
            needed.append(.s3("s3:GetObject", bucket: source.bucket, key: source.key))
        }
        return needed
    }

    /// Refuses with `AccessDenied` unless `policy` allows every permission `s3` needs.
    static func authorize(_ s3: S3Request, policy: AccessPolicy, accessKeyID: String) throws {
        try require(try permissions(for: s3), policy: policy, accessKeyID: accessKeyID)
    }

    /// Refuses with `AccessDenied` unless `policy` allows every one of `permissions`.
    static func require(_ permissions: [Permission], policy: AccessPolicy, accessKeyID: String) throws(S3Error) {
        if let denied = permissions.first(where: { !$0.isAllowed(by: policy) }) {
            throw S3Error(.forbidden, "AccessDenied", "\(accessKeyID) may not \(denied)")
        }
    }
}
