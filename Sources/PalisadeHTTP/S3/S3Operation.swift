/// The S3 API operation a request is, by AWS's names: what metrics and the access log call it.
enum S3Operation {
    static func name(of s3: S3Request) -> String {
        guard s3.bucket != nil else { return s3.method == .get ? "ListBuckets" : "Unknown" }
        guard s3.key != nil else { return bucketOperation(s3) }
        let isCopy = s3.header("x-amz-copy-source") != nil
        if s3.query["uploadId"] != nil {
            switch s3.method {
            case .put: return isCopy ? "UploadPartCopy" : "UploadPart"
            case .post: return "CompleteMultipartUpload"
            case .delete: return "AbortMultipartUpload"
            case .get: return "ListParts"
            default: return "Unknown"
            }
        }
        switch s3.method {
        case .post where s3.query["uploads"] != nil: return "CreateMultipartUpload"
        case .put: return isCopy ? "CopyObject" : "PutObject"
        case .get: return "GetObject"
        case .head: return "HeadObject"
        case .delete: return "DeleteObject"
        default: return "Unknown"
        }
    }

    private static func bucketOperation(_ s3: S3Request) -> String {
        switch s3.method {
        case .put: return "CreateBucket"
        case .head: return "HeadBucket"
        case .delete: return "DeleteBucket"
        case .post where s3.query["delete"] != nil: return "DeleteObjects"
        case .post where s3.isBrowserFormUpload: return "PostObject"
        case .get where s3.query["location"] != nil: return "GetBucketLocation"
        case .get where s3.query["versioning"] != nil: return "GetBucketVersioning"
        case .get where s3.query["uploads"] != nil: return "ListMultipartUploads"
        case .get where s3.query["list-type"] == "2": return "ListObjectsV2"
        case .get: return "ListObjects"
        default: return "Unknown"
        }
    }
}
