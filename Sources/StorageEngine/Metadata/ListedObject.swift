/// An object as a listing reports it (ListObjects' `Contents`), read without the rest of its head.
public struct ListedObject: Sendable, Equatable {
    public var key: String
    public var size: Int64
    /// Unquoted.
    public var etag: String
    /// Milliseconds since 1970.
    public var lastModified: Int64

    public init(key: String, size: Int64, etag: String, lastModified: Int64) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}
