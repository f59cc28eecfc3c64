import StorageCore
import Testing

func uploaded(_ number: Int, etag: String, size: Int64 = MultipartRules.minimumPartSize) -> UploadedPart {
    UploadedPart(number: number, blobID: "blob\(number)\(etag)", size: size, etag: etag, lastModified: 0)
}

@Suite("Multipart rules")
struct MultipartRulesTests {
    let parts = [uploaded(1, etag: "a"), uploaded(2, etag: "b"), uploaded(3, etag: "c", size: 10)]

    @Test("listed parts assemble in order; parts left out are not used; only the last may be small")
    func assembles() throws {
        let assembly = try MultipartRules.assemble(
            requested: [RequestedPart(number: 1, etag: "a"), RequestedPart(number: 3, etag: "c")],
            uploaded: parts
        ).get()
        #expect(assembly.segments.map(\.blobID) == ["blob1a", "blob3c"])
        #expect(assembly.size == MultipartRules.minimumPartSize + 10)
        #expect(assembly.partETags == ["a", "c"])
    }

    @Test(
        "each bad completion has its rejection",
        arguments: [
            ([], MultipartRejection.noParts),
            ([RequestedPart(number: 2, etag: "b"), RequestedPart(number: 1, etag: "a")], .invalidPartOrder),
            ([RequestedPart(number: 1, etag: "a"), RequestedPart(number: 1, etag: "a")], .invalidPartOrder),
            ([RequestedPart(number: 1, etag: "stale")], .invalidPart(1)),
            ([RequestedPart(number: 5, etag: "e")], .invalidPart(5)),
            ([RequestedPart(number: 3, etag: "c"), RequestedPart(number: 4, etag: "d")], .entityTooSmall(3)),
        ] as [([RequestedPart], MultipartRejection)]
    )
    func rejections(requested: [RequestedPart], rejection: MultipartRejection) {
        var all = parts
        all.append(uploaded(4, etag: "d"))
        #expect(MultipartRules.assemble(requested: requested, uploaded: all) == .failure(rejection))
    }
}
