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

    @Test(
        "checksum types: the CRCs are composite by default and combine into full-object values; CRC-64/NVME is full-object only; hashes only composite"
    )
    func checksumTypes() {
        #expect(
            ChecksumAlgorithm.allCases.map(\.defaultMultipartType) == [
                .composite, .composite, .fullObject, .composite, .composite,
            ]
        )
        #expect(ChecksumAlgorithm.allCases.filter { $0.supports(.fullObject) } == [.crc32, .crc32c, .crc64nvme])
        #expect(ChecksumAlgorithm.allCases.filter { $0.supports(.composite) } == [.crc32, .crc32c, .sha1, .sha256])
        #expect(ChecksumType(ofStoredValue: "AAAAAA==-3") == .composite)
        #expect(ChecksumType(ofStoredValue: "AAAAAA==") == .fullObject)
    }

    @Test("with a checksum, each listed part's checksum must be its upload's; a composite upload needs them all")
    func partChecksums() {
        var withChecksums = parts
        for index in withChecksums.indices { withChecksums[index].checksum = "sum\(index + 1)" }
        let composite = MultipartChecksum(algorithm: .crc32, type: .composite)
        let listed = [
            RequestedPart(number: 1, etag: "a", checksum: "sum1"),
            RequestedPart(number: 3, etag: "c", checksum: "sum3"),
        ]
        #expect(
            (try? MultipartRules.assemble(requested: listed, uploaded: withChecksums, checksum: composite).get())?
                .partChecksums == ["sum1", "sum3"]
        )
        var unlisted = listed
        unlisted[1].checksum = nil
        #expect(
            MultipartRules.assemble(requested: unlisted, uploaded: withChecksums, checksum: composite)
                == .failure(.missingPartChecksum(3, .crc32))
        )
        let fullObject = MultipartChecksum(algorithm: .crc32, type: .fullObject)
        #expect(
            (try? MultipartRules.assemble(requested: unlisted, uploaded: withChecksums, checksum: fullObject).get())?
                .partChecksums == ["sum1", "sum3"],
            "a full-object upload takes the part checksums it was not told"
        )
        var wrong = listed
        wrong[0].checksum = "sum2"
        #expect(
            MultipartRules.assemble(requested: wrong, uploaded: withChecksums, checksum: fullObject)
                == .failure(.invalidPart(1))
        )
    }

    @Test("what a completion claims is checked: type, algorithm, value (with or without -N), size")
    func claims() {
        let composite = MultipartChecksum(algorithm: .crc32, type: .composite)
        let check = { (claims: CompletionClaims, checksum: MultipartChecksum?) in
            MultipartRules.check(claims, checksum: checksum, computed: checksum == nil ? nil : "sum-2", size: 7)
        }
        #expect(
            check(CompletionClaims(checksumType: .composite, checksum: (.crc32, "sum-2"), objectSize: 7), composite)
                == nil
        )
        #expect(check(CompletionClaims(checksum: (.crc32, "sum")), composite) == nil)
        #expect(check(CompletionClaims(checksum: (.crc32, "other")), composite) == .checksumMismatch(.crc32))
        #expect(
            check(CompletionClaims(checksumType: .fullObject), composite)
                == .checksumTypeMismatch(claimed: .fullObject, upload: .composite)
        )
        #expect(
            check(CompletionClaims(checksum: (.sha256, "sum-2")), composite)
                == .checksumAlgorithmMismatch(claimed: .sha256, upload: .crc32)
        )
        #expect(
            check(CompletionClaims(checksum: (.crc32, "sum")), nil)
                == .checksumAlgorithmMismatch(claimed: .crc32, upload: nil)
        )
        #expect(check(CompletionClaims(objectSize: 8), nil) == .objectSizeMismatch(claimed: 8, actual: 7))
    }
}
