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

LOCK_TARGETS = ["palisade", "palisade-session", "etcd", "redis"]


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
        "| mode | target | clients | cycles/s | server CPU µs/cycle | acquire p50 µs | p99 µs | hand-off p50 µs | fairness | overlaps | tokens out of order |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    order = {name: index for index, name in enumerate(LOCK_TARGETS)}
    for row in sorted(rows, key=lambda r: (r["mode"], r["clients"], order.get(r["target"], 9))):
        hand_off = row.get("handOffP50Microseconds")
        out_of_order = row.get("tokensOutOfOrder")
        lines.append(
            f"| {row['mode']} | {row['target']} | {row['clients']} | {row['cyclesPerSecond']:,.0f} "
            f"| {cpu(row.get('serverCPUMicrosecondsPerCycle'))} | {row['acquireP50Microseconds']:,} | {row['acquireP99Microseconds']:,} "
            f"| {'-' if hand_off is None else f'{hand_off:,}'} | {row['fairness']:.3f} "
            f"| {row['overlappingCriticalSections']} | {'n/a (no tokens)' if out_of_order is None else out_of_order} |"
        )
    return lines


def gateway_table(rows: list[dict]) -> list[str]:
    lines = [
        "| op | size | target | clients | ops/s | server CPU µs/op | MB/s | p50 µs | p99 µs | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(rows, key=lambda r: (r["operation"], r["objectSize"], r["clients"], r["target"])):
        size = row["objectSize"]
        label = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
        lines.append(
            f"| {row['operation']} | {label} | {row['target']} | {row['clients']} | {row['operationsPerSecond']:,.0f} "
            f"| {cpu(row.get('serverCPUMicrosecondsPerOperation'))} | {row['megabytesPerSecond']:,.1f} | {row['p50Microseconds']:,} | {row['p99Microseconds']:,} | {row['errors']} |"
        )
    return lines


def cpu(microseconds: float | None) -> str:
    """A server's CPU time per operation, or '-' where it was not measured (older results)."""
    return "-" if microseconds is None else f"{microseconds:,.1f}"


def find(rows: list[dict], **match) -> dict | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def targets(locks: list[dict], gateway: list[dict]) -> list[str]:
    """The issue's targets, each with the measured figures and whether it is met."""
    checks: list[tuple[str, float | None, float, str]] = []

    def ratio(a: dict | None, b: dict | None, key: str) -> float | None:
        return a[key] / b[key] if a and b and b[key] else None

    most = max((r["clients"] for r in locks if r["mode"] == "uncontended"), default=64)
    for name in sorted({r["target"] for r in locks if r["target"].startswith("palisade")}):
        ours = find(locks, target=name, mode="uncontended", clients=most)
        checks.append((f"lock cycles/s, {most} uncontended clients, {name} ÷ etcd",
                       ratio(ours, find(locks, target="etcd", mode="uncontended", clients=most), "cyclesPerSecond"), 5, "≥"))
        checks.append((f"lock cycles/s, {most} uncontended clients, {name} ÷ Redis",
                       ratio(ours, find(locks, target="redis", mode="uncontended", clients=most), "cyclesPerSecond"), 1, "≥"))
        one = find(locks, target=name, mode="uncontended", clients=1)
        checks.append((f"{name}: acquire p99 µs, 1 uncontended client", one and one["acquireP99Microseconds"], 1000, "<"))
        contended = [r for r in locks if r["target"] == name and r["mode"] == "contended" and r["clients"] > 1]
        if contended:
            worst = max(contended, key=lambda r: r.get("handOffP50Microseconds") or 0)
            checks.append((f"{name}: contended hand-off p50 µs, {worst['clients']} clients",
                           worst.get("handOffP50Microseconds"), 200, "<"))
            least = min(contended, key=lambda r: r["fairness"])
            checks.append((f"{name}: contended fairness, {least['clients']} clients", least["fairness"], 0.95, ">"))
    for op, size, key, goal in [("get", 4096, "operationsPerSecond", 0.7), ("get", 64 << 20, "megabytesPerSecond", 0.8)]:
        sizes = [r for r in gateway if r["operation"] == op and r["objectSize"] == size and r["target"] == "nginx"]
        for row in sorted(sizes, key=lambda r: r["clients"]):
            ours = find(gateway, target="palisade", operation=op, objectSize=size, clients=row["clients"])
            label = "4 KiB GET ops/s" if size == 4096 else "64 MiB GET MB/s"
            checks.append((f"{label}, {row['clients']} clients, Palisade ÷ nginx", ratio(ours, row, key), goal, "≥"))
    for row in sorted((r for r in gateway if r["target"] == "palisade-fenced"), key=lambda r: (r["objectSize"], r["clients"])):
        plain = find(gateway, target="palisade", operation=row["operation"], objectSize=row["objectSize"], clients=row["clients"])
        if plain:
            size = row["objectSize"]
            label = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
            checks.append((f"fenced ÷ unfenced PUT ops/s, {label}, {row['clients']} clients",
                           ratio(row, plain, "operationsPerSecond"), 0.9, "≥"))
    lines = ["| target | measured | goal | met |", "|---|---:|---:|---|"]
    for label, value, goal, sense in checks:
        if value is None:
            lines.append(f"| {label} | not measured | {sense} {goal:g} | – |")
            continue
        met = {"≥": value >= goal, ">": value > goal, "<": value < goal}[sense]
        shown = f"{value:,.0f}" if goal >= 100 else f"{value:.2f}"
        lines.append(f"| {label} | {shown} | {sense} {goal:g} | {'yes' if met else '**no**'} |")
    return lines


def plot(locks: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8.5, 4.2), dpi=120)
    colors = {"palisade": "tab:blue", "palisade-session": "tab:green", "etcd": "tab:orange", "redis": "tab:red"}
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
