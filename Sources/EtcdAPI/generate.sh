#!/usr/bin/env bash
# Regenerates this folder's Swift code from etcd 3.4's own .proto files (Debian's
# golang-etcd-server-dev, the same 3.4.23 as etcd-server): the messages (swift-protobuf) and the
# client stubs (grpc-swift-2) of rpc.proto, with kv.proto and auth.proto that it imports.
# The options for Go (gogoproto) and for etcd's JSON gateway (google.api.http) are removed first:
# they change nothing on the wire. The plugins are built from the package versions Package.swift
# pins (a first build takes about ten minutes). Run from anywhere; the output is committed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
etcd=/usr/share/gocode/src/go.etcd.io/etcd
[ -d "$etcd" ] || { echo "generate.sh: install golang-etcd-server-dev (and protobuf-compiler)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/proto/etcd/mvcc/mvccpb" "$work/proto/etcd/auth/authpb" "$work/proto/etcd/etcdserver/etcdserverpb"
for file in mvcc/mvccpb/kv.proto auth/authpb/auth.proto etcdserver/etcdserverpb/rpc.proto; do
    python3 - "$etcd/$file" "$work/proto/etcd/$file" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r'import "(gogoproto/gogo|google/api/annotations)\.proto";\n', "", text)
text = re.sub(r"option \(gogoproto\.[a-z_]+\) = [a-z]+;\n", "", text)
text = re.sub(r"\s*\[\(gogoproto\.[^\]]*\]", "", text)
text = re.sub(r"option \(google\.api\.http\) = \{([^{}]*|\{[^{}]*\})*\};\s*", "", text)
# A service method left with an empty option block reads `rpc X(A) returns (B) {\n  }`: valid proto.
open(sys.argv[2], "w").write(text)
PY
done

# PROTOC_PLUGIN_BIN: a folder that already holds both plugins, built as below (skips the build).
bin="${PROTOC_PLUGIN_BIN:-}"
plugins="$work/plugins"
[ -n "$bin" ] || {
mkdir -p "$plugins/Sources/Nothing"
touch "$plugins/Sources/Nothing/Nothing.swift"
cat > "$plugins/Package.swift" <<'SWIFT'
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "plugins",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
    ],
    targets: [.target(name: "Nothing")]
)
SWIFT
(cd "$plugins" && swift build -c release --product protoc-gen-swift >&2 && swift build -c release --product protoc-gen-grpc-swift-2 >&2)
bin="$(cd "$plugins" && swift build -c release --show-bin-path)"
}

rm -f "$here"/*.pb.swift "$here"/*.grpc.swift
cd "$work/proto"
protoc --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --swift_out="$here" --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
    etcd/mvcc/mvccpb/kv.proto etcd/auth/authpb/auth.proto etcd/etcdserver/etcdserverpb/rpc.proto
protoc --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
    --grpc-swift-2_out="$here" --grpc-swift-2_opt=Visibility=Public,Server=false,Client=true,FileNaming=PathToUnderscores \
    etcd/etcdserver/etcdserverpb/rpc.proto
echo "generate.sh: wrote $(ls "$here"/*.swift | wc -l) files to $here" >&2
