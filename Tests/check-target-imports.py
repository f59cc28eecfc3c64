#!/usr/bin/env python3
"""Every module a target imports is declared in Package.swift: a dependency of the target (one of
ours or a product), or one of the toolchain's own modules. Exits non-zero and names each import
that Package.swift does not declare (it builds today only because another target pulled it in)."""
import json
import pathlib
import re
import subprocess
import sys

TOOLCHAIN = {"Foundation", "FoundationEssentials", "FoundationNetworking", "FoundationXML", "Glibc",
             "Darwin", "Dispatch", "Synchronization", "Testing", "XCTest", "_Concurrency"}
IMPORT = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:public |package |internal |private |fileprivate )?"
                    r"import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?(\w+)", re.M)

root = pathlib.Path(__file__).resolve().parent.parent
package = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True,
                                    capture_output=True, text=True).stdout)
failures = []
for target in package["targets"]:
    declared = {target["name"]}
    for dependency in target["dependencies"]:
        kind, value = next(iter(dependency.items()))
        declared.add(value[0])
    default = ("Tests/" if target["type"] == "test" else "Sources/") + target["name"]
    folder = root / (target.get("path") or default)
    for source in sorted(folder.rglob("*.swift")):
        for module in set(IMPORT.findall(source.read_text())):
            if module not in declared and module not in TOOLCHAIN:
                failures.append(f"{source.relative_to(root)}: imports {module}, not a dependency of {target['name']}")
print("\n".join(failures) if failures else f"check-target-imports: {len(package['targets'])} targets declare what they import")
sys.exit(1 if failures else 0)
