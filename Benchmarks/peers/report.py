#!/usr/bin/env python3
"""One table and one plot from the JSON files `palisade bench … --json` wrote in Benchmarks/peers/run.sh.

    python3 Benchmarks/peers/report.py Benchmarks/peers/results --duration 10s --versions "etcd 3.4.23, …"

Writes RESULTS/peers.md (machine, date, commands, tables, the issue's targets checked) and
RESULTS/locks.png (lock cycles/s against clients for Palisade, etcd and Redis).
"""

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

LOCK_TARGETS = ["palisade", "palisade-session", "palisade-session-relaxed", "etcd", "redis"]


def load(directory: Path, pattern: str) -> list[dict]:
    rows: list[dict] = []
    for path in sorted(directory.glob(pattern)):
        rows.extend(json.loads(path.read_text()))
    return rows


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


def lock_table(rows: list[dict]) -> list[str]:
    lines = [
        "| mode | target | clients | cycles/s | server CPU µs/cycle | generator CPU µs/cycle | acquire p50 µs | p99 µs | hand-off p50 µs | fairness | overlaps | tokens out of order |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    order = {name: index for index, name in enumerate(LOCK_TARGETS)}
    for row in sorted(rows, key=lambda r: (r["mode"], r["clients"], order.get(r["target"], 9))):
        hand_off = row.get("handOffP50Microseconds")
        out_of_order = row.get("tokensOutOfOrder")
        lines.append(
            f"| {row['mode']} | {row['target']} | {row['clients']} | {row['cyclesPerSecond']:,.0f} "
            f"| {cpu(row.get('serverCPUMicrosecondsPerCycle'))} | {cpu(row.get('generatorCPUMicrosecondsPerCycle'))} "
            f"| {row['acquireP50Microseconds']:,} | {row['acquireP99Microseconds']:,} "
            f"| {'-' if hand_off is None else f'{hand_off:,}'} | {row['fairness']:.3f} "
            f"| {row['overlappingCriticalSections']} | {'n/a (no tokens)' if out_of_order is None else out_of_order} |"
        )
    return lines


def gateway_table(rows: list[dict]) -> list[str]:
    lines = [
        "| op | size | target | clients | ops/s | server CPU µs/op | generator CPU µs/op | MB/s | p50 µs | p99 µs | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(rows, key=lambda r: (r["operation"], r["objectSize"], r["clients"], r["target"])):
        size = row["objectSize"]
        label = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
        lines.append(
            f"| {row['operation']} | {label} | {row['target']} | {row['clients']} | {row['operationsPerSecond']:,.0f} "
            f"| {cpu(row.get('serverCPUMicrosecondsPerOperation'))} | {cpu(row.get('generatorCPUMicrosecondsPerOperation'))} "
            f"| {row['megabytesPerSecond']:,.1f} | {row['p50Microseconds']:,} | {row['p99Microseconds']:,} | {row['errors']} |"
        )
    return lines


def cpu(microseconds: float | None) -> str:
    """CPU time per operation, or '-' where it was not measured (older results)."""
    return "-" if microseconds is None else f"{microseconds:,.1f}"


def find(rows: list[dict], **match) -> dict | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def targets(locks: list[dict], gateway: list[dict]) -> list[str]:
    """The targets of issue 14 (performance round 2), each with the measured figure and whether it
    is met. Beside each throughput ratio, its ceiling with this load generator on these cores: the
    ratio Palisade would reach if its server took no CPU at all, (peer's server + generator CPU per
    operation) ÷ (Palisade's generator CPU per operation), where the run is CPU-bound."""
    checks: list[tuple[str, float | None, float, str, float | None]] = []

    def ratio(a: dict | None, b: dict | None, key: str) -> float | None:
        return a[key] / b[key] if a and b and b[key] else None

    def ceiling(ours: dict | None, peer: dict | None, unit: str) -> float | None:
        try:
            return (peer[f"serverCPUMicrosecondsPer{unit}"] + peer[f"generatorCPUMicrosecondsPer{unit}"]) \
                / ours[f"generatorCPUMicrosecondsPer{unit}"]
        except (KeyError, TypeError, ZeroDivisionError):
            return None

    for op, goal in [("put", 1.0), ("get", 0.7)]:
        for clients in (16, 64):
            ours = find(gateway, target="palisade", operation=op, objectSize=4096, clients=clients)
            nginx = find(gateway, target="nginx", operation=op, objectSize=4096, clients=clients)
            label = "durable PUT" if op == "put" else "GET"
            checks.append((f"4 KiB {label} ops/s, {clients} clients, Palisade ÷ nginx",
                           ratio(ours, nginx, "operationsPerSecond"), goal, "≥", ceiling(ours, nginx, "Operation")))
    most = max((r["clients"] for r in locks if r["mode"] == "uncontended"), default=64)
    for name, peer, goal in [("palisade-session", "etcd", 3), ("palisade-session-relaxed", "redis", 0.5)]:
        ours = find(locks, target=name, mode="uncontended", clients=most)
        other = find(locks, target=peer, mode="uncontended", clients=most)
        checks.append((f"lock cycles/s, {most} uncontended clients, {name} ÷ {peer}",
                       ratio(ours, other, "cyclesPerSecond"), goal, "≥", ceiling(ours, other, "Cycle")))
    contended = [r for r in locks if r["target"] == "palisade-session-relaxed" and r["mode"] == "contended"
                 and r["clients"] > 1]
    if contended:
        worst = max(contended, key=lambda r: r.get("handOffP50Microseconds") or 0)
        checks.append((f"palisade-session-relaxed: contended hand-off p50 µs, {worst['clients']} clients",
                       worst.get("handOffP50Microseconds"), 250, "<", None))
    lines = ["| target | measured | goal | met | ceiling with this generator |", "|---|---:|---:|---|---:|"]
    for label, value, goal, sense, bound in checks:
        shown_bound = "–" if bound is None else f"{bound:.2f}"
        if value is None:
            lines.append(f"| {label} | not measured | {sense} {goal:g} | – | {shown_bound} |")
            continue
        met = {"≥": value >= goal, ">": value > goal, "<": value < goal}[sense]
        shown = f"{value:,.0f}" if goal >= 100 else f"{value:.2f}"
        lines.append(f"| {label} | {shown} | {sense} {goal:g} | {'yes' if met else '**no**'} | {shown_bound} |")
    return lines


def plot(locks: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8.5, 4.2), dpi=120)
    colors = {"palisade": "tab:blue", "palisade-session": "tab:green", "palisade-session-relaxed": "tab:olive",
              "etcd": "tab:orange", "redis": "tab:red"}
    for target in LOCK_TARGETS:
        for mode, style in [("uncontended", "-o"), ("contended", "--s")]:
            rows = sorted((r for r in locks if r["target"] == target and r["mode"] == mode), key=lambda r: r["clients"])
            if rows:
                axes.plot([r["clients"] for r in rows], [r["cyclesPerSecond"] for r in rows], style,
                          color=colors[target], label=f"{target}, {mode}")
    axes.set_xscale("log", base=2)
    counts = sorted({r["clients"] for r in locks})
    axes.set_xticks(counts, [str(count) for count in counts])
    axes.set_yscale("log")
    axes.set_xlabel("clients")
    axes.set_ylabel("acquire + release cycles per second")
    axes.set_title("Lock throughput against clients (one machine, loopback)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--versions", default="")
    arguments = parser.parse_args()
    locks = load(arguments.results, "locks-*.json")
    gateway = load(arguments.results, "gateway-*.json")
    text = [
        "# Palisade beside etcd, Redis and nginx",
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()}; peers: {arguments.versions}. "
        f"Every server and the load generator share the machine's cores; {arguments.duration} per run.",
        "Command: `Benchmarks/peers/run.sh` (one load generator, `palisade bench`, for every system).",
        "",
        "## Locks",
        "",
        *lock_table(locks),
        "",
        "## Objects",
        "",
        *gateway_table(gateway),
        "",
        "## Targets",
        "",
        *targets(locks, gateway),
        "",
    ]
    (arguments.results / "peers.md").write_text("\n".join(text))
    plot(locks, arguments.results / "locks.png")
    print("\n".join(text))
    print(f"wrote {arguments.results / 'peers.md'} and {arguments.results / 'locks.png'}")


if __name__ == "__main__":
    main()
