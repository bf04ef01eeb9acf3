#!/usr/bin/env python3
"""Checks that the code obeys the module graph (make check-architecture, part of make test).

- every `import` in a target's sources names one of its declared dependencies (or a toolchain
  module the rules allow);
- Glibc is imported by SystemIO only, and each C library by its one door;
- no library target holds more than the line budget;
- the graph in docs/architecture.md (the "Module graph" table) is the one Package.swift declares.
Prints one line per violation and exits 1 if there is any.
"""
import json, os, re, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)
package = json.loads(subprocess.run(
    ["swift", "package", "dump-package"], check=True, capture_output=True, text=True).stdout)

LINE_BUDGET = 4000
# Toolchain modules any target may use; Foundation only outside the product's sources.
TOOLCHAIN = {"Swift", "Dispatch", "Synchronization", "_Concurrency"}
TEST_TOOLCHAIN = TOOLCHAIN | {"Foundation", "Testing", "XCTest"}
# C doors: the module (and file) allowed to import each system library or the C runtime.
DOORS = {
    "Glibc": ("SystemIO", None),
    "CSystem": ("SystemIO", "Sources/SystemIO/Syscalls.swift"),
    "CLapack": ("LinearAlgebra", "Sources/LinearAlgebra/LAPACK.swift"),
    "CJSONC": ("JSON", "Sources/JSON/JSONC.swift"),
    "CStb": ("TrainingIO", "Sources/TrainingIO/Data/ImageCodec.swift"),
}
PRODUCT_MODULES = {"ArgumentParser", "Logging", "Crypto", "RealModule"}

def target_path(target):
    if target.get("path"):
        return target["path"]
    base = "Tests" if target["type"] == "test" else "Sources"
    return os.path.join(base, target["name"])

def dependencies(target):
    names = set()
    for dependency in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                names.add(dependency[kind][0])
    return names

problems = []
graph = {}
for target in package["targets"]:
    name, kind = target["name"], target["type"]
    if kind == "system":
        continue
    declared = dependencies(target)
    if kind == "regular" and not target_path(target).startswith("Tests"):
        graph[name] = sorted(declared)
    allowed = declared | (TOOLCHAIN if kind in ("regular",) and not target_path(target).startswith("Tests") else TEST_TOOLCHAIN)
    if name in ("lorakit-faults", "lorakit-bench"):
        allowed |= {"Foundation"}
    lines = 0
    for directory, _, files in os.walk(target_path(target)):
        for file in files:
            if not file.endswith(".swift"):
                continue
            path = os.path.join(directory, file)
            text = open(path, encoding="utf-8").read()
            lines += text.count("\n")
            for match in re.finditer(r"^(?:@testable )?import (\w+)", text, re.M):
                module = match.group(1)
                if module in DOORS:
                    door, door_file = DOORS[module]
                    if name != door or (door_file and path != door_file):
                        problems.append(f"{path}: imports {module}, which only {door_file or door} may")
                    continue
                if module not in allowed:
                    problems.append(f"{path}: imports {module}, not a declared dependency of {name}")
    if kind in ("regular", "executable") and target_path(target).startswith("Sources") and lines > LINE_BUDGET:
        problems.append(f"{target_path(target)}: {lines} lines, above the {LINE_BUDGET}-line budget")

# The documented graph: rows "| `Module` | `Dep`, `Dep` |" under "## Module graph".
doc = open("docs/architecture.md", encoding="utf-8").read()
section = doc.split("## Module graph", 1)[1].split("\n## ", 1)[0] if "## Module graph" in doc else ""
documented = {}
for row in re.finditer(r"^\| `(\w+)` \| ([^|]*)\|", section, re.M):
    documented[row.group(1)] = sorted(re.findall(r"`(\w+)`", row.group(2)))
for module in sorted(set(graph) | set(documented)):
    if module not in documented:
        problems.append(f"docs/architecture.md: module {module} is not in the module graph")
    elif module not in graph:
        problems.append(f"docs/architecture.md: module {module} is documented but not a library target")
    elif documented[module] != graph[module]:
        problems.append(
            f"docs/architecture.md: {module} depends on {', '.join(graph[module]) or 'nothing'} "
            f"in Package.swift, the document says {', '.join(documented[module]) or 'nothing'}")

for problem in problems:
    print(problem)
if problems:
    sys.exit(1)
print(f"architecture: {len(graph)} library modules, imports and graph as declared")
