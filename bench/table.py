#!/usr/bin/env python3
"""Prints the performance figures as one Markdown table, from the JSON that
shared/benches/figures.rs, lambda-bench and invocation-bench (bench/drivers) and
bench/run's package step wrote; concurrency-bench's concurrency.json, when present, as a
table of its own after it.

    python3 bench/table.py DIR     (DIR holds figures.json, lambda.json, invocation.json, package.json)

Exits 1 when a figure is missing or a target is not met, after printing the table."""

import json
import os
import sys

MiB = 1024 * 1024


def load(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def ms(ns):
    return f"{ns / 1e6:.3f} ms" if ns < 1e7 else f"{ns / 1e6:.1f} ms"


def us_or_ms(ns):
    return f"{ns / 1e3:.1f} µs" if ns < 1e6 else ms(ns)


def rate(bytes_, ns):
    return f"{bytes_ / MiB / (ns / 1e9):,.0f} MiB/s"


def size(b):
    return f"{b / MiB:.2f} MiB" if b >= MiB else f"{b / 1024:.1f} KiB"


def node_rows(lam, missing):
    """Rows (figure, Rust, Node, Node/Rust, met) comparing the function with the customer's
    Node.js listener, from lambda.json's Node keys; what is absent goes to `missing`. Met:
    warm latency no slower than Node's; None (no target) for the rest."""
    rows = []

    def ratio(node, rust):
        return f"{node / rust:.1f}x" if rust else "—"

    warm = lam.get("warm")
    if warm:
        cases = sorted(warm["cases"].values(), key=lambda c: c["files"])
        for c in cases:
            r, n = c["rust"], c["node"]
            rows.append((
                f"Warm latency, {c['files']}-file {size(c['bytes'])} confirmed (moto, no added delay, median of {c['runs']})",
                f"{r['latency_median_ms']:.1f} ms", f"{n['latency_median_ms']:.1f} ms",
                ratio(n["latency_median_ms"], r["latency_median_ms"]),
                r["latency_median_ms"] <= n["latency_median_ms"],
            ))
        for c in cases:
            r, n = c["rust"], c["node"]
            rows.append((
                f"CPU per invocation, whole process, {c['files']}-file {size(c['bytes'])} (moto direct, "
                f"utime+stime over {r['cpu_invocations']} invocations)",
                f"{r['cpu_ms']:.2f} ms", f"{n['cpu_ms']:.2f} ms", ratio(n["cpu_ms"], r["cpu_ms"]), None,
            ))
        chk = warm["node_check"]
        rows.append((
            "Node.js listener checked on moto (50-file delivery)",
            "—",
            f"{chk['objects']} objects, {chk['confirmed_messages']} messages for {chk['files']} files; "
            f"wrong signature: {chk['wrong_signature_status']}"
            + (f"; 3 failed + 2 processed files: {chk['routing']['failed_and_processed_objects']} objects, "
               f"{chk['routing']['failed_messages']} failed messages" if "routing" in chk else ""),
            "—", None,
        ))
    else:
        missing.append("warm latency and CPU beside Node.js (warm)")

    fo = lam.get("fanout")
    if fo and "node" in fo:
        for label, what in (("instant", "instant stand-in"), ("moto", "moto")):
            r, n = fo[label], fo["node"][label]
            rows.append((
                f"Round trips, 50-file confirmed, +{fo['delay_ms']} ms per S3/SNS call ({what})",
                f"{r['round_trips']:.1f} ({r['requests']:.0f} calls, {r['delayed_median_ms']:.0f} ms)",
                f"{n['round_trips']:.1f} ({n['requests']:.0f} calls, {n['delayed_median_ms']:.0f} ms)",
                ratio(n["delayed_median_ms"], r["delayed_median_ms"]) + " time", None,
            ))
    elif fo:
        missing.append("round trips of the Node.js listener (fanout)")

    cs = lam.get("coldstart")
    if cs and "node_median_ms" in cs:
        rows.append((
            f"Cold start: process start to first /next (median of {cs['runs']})",
            f"{cs['median_ms']:.2f} ms", f"{cs['node_median_ms']:.1f} ms",
            ratio(cs["node_median_ms"], cs["median_ms"]), None,
        ))
    elif cs:
        missing.append("cold start of the Node.js listener (coldstart)")

    mem = lam.get("memory")
    if mem and "node" in mem:
        for key in ("tiny", "mem-1MiB", "mem-6MiB"):
            r, n = mem["sizes"].get(key), mem["node"]["sizes"].get(key)
            if r and n:
                rows.append((
                    f"Peak RSS after one delivery, {size(r['bytes'])}",
                    f"{r['peak_rss_median_bytes'] / MiB:.1f} MiB", f"{n['peak_rss_median_bytes'] / MiB:.1f} MiB",
                    ratio(n["peak_rss_median_bytes"], r["peak_rss_median_bytes"]), None,
                ))
    elif mem:
        missing.append("peak RSS of the Node.js listener (memory)")
    return rows


# How much worse than the previous build a figure may read and still count as no worse:
# the spread of repeated runs on this machine (docs/performance.md, "Measuring it").
NO_WORSE = 1.05


def prev_rows(lam, inv):
    """Rows (figure, this build, previous build, change, met) from the `--prev` build
    measured in the same run: met when this build is no worse than the previous one
    (within NO_WORSE; round trips exactly)."""
    rows = []

    def change(new, old):
        return f"{100 * (new / old - 1):+.1f}%" if old else "—"

    cs = lam.get("coldstart") or {}
    if "compare_median_ms" in cs:
        new, old = cs["median_ms"], cs["compare_median_ms"]
        rows.append((f"Cold start: process start to first /next (median of {cs['runs']})",
                     f"{new:.2f} ms", f"{old:.2f} ms", change(new, old), new <= old * NO_WORSE))
    fo = lam.get("fanout") or {}
    for label, what in (("instant", "instant stand-in"), ("moto", "moto")):
        old = (fo.get("compare") or {}).get(label)
        if old:
            new = fo[label]
            rows.append((f"Fan-out, 50-file confirmed, +{fo['delay_ms']} ms per call ({what})",
                         f"{new['round_trips']:.1f} round trips, {new['delayed_median_ms']:.0f} ms",
                         f"{old['round_trips']:.1f} round trips, {old['delayed_median_ms']:.0f} ms",
                         change(new["delayed_median_ms"], old["delayed_median_ms"]),
                         new["delayed_median_ms"] <= old["delayed_median_ms"] * NO_WORSE))
    mem = lam.get("memory") or {}
    for key, old in ((mem.get("compare") or {}).get("sizes") or {}).items():
        new = mem["sizes"].get(key)
        if new:
            a, b = new["peak_rss_median_bytes"], old["peak_rss_median_bytes"]
            rows.append((f"Peak RSS after one delivery, {size(new['bytes'])}", f"{a / MiB:.1f} MiB",
                         f"{b / MiB:.1f} MiB", change(a, b), a <= b * NO_WORSE))
    for c in (inv or {}).get("cases", []):
        for old in c.get("compare", []):
            new = c["webhook_cpu_ms"]
            rows.append((f"CPU per invocation, {c['files']}-file {size(c['body_bytes'])} (behind a keep-alive front)",
                         f"{new:.2f} ms", f"{old['cpu_ms']:.2f} ms", change(new, old["cpu_ms"]),
                         new <= old["cpu_ms"] * NO_WORSE))
    return rows


def print_table(header, rows):
    """Prints rows as a Markdown table whose last column is met (True, False or None);
    true if any row was not met."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    failed = False
    for row in rows:
        met = row[-1]
        failed |= met is False
        mark = "—" if met is None else ("yes" if met else "**no**")
        print("| " + " | ".join(list(row[:-1]) + [mark]) + " |")
    return failed


def concurrency_section(doc):
    """concurrency-bench's rows: what each MAX_CONCURRENCY costs and gains (not a target)."""
    scale = doc["full_vcpu_mb"] / doc["lambda_mb"]
    for case, rows in doc["cases"].items():
        print(f"\nRequests in flight (MAX_CONCURRENCY), {case}: +{doc['delay_ms']} ms per S3/SNS call, "
              f"fresh process per value, median of {doc['rounds']} rounds; CPU at {doc['lambda_mb']:.0f} MB = CPU x {scale:.2f}\n")
        print("| MAX_CONCURRENCY | round trips | warm | cold (first invocation) | TLS handshakes cold (S3+SNS) / warm | CPU cold (at 256 MB) | CPU warm (at 256 MB) | warm, connections closed: handshakes (resumed), CPU (at 256 MB) | peak RSS |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['max_concurrency']} | {r['round_trips']:.1f} | {r['warm_delayed_ms']:.0f} ms | {r['cold_ms']:.0f} ms | "
                  f"{r['cold_s3_handshakes']:.0f}+{r['cold_sns_handshakes']:.0f} / {r['warm_handshakes_total']} | "
                  f"{r['cold_cpu_ms']:.1f} ms ({r['cold_cpu_at_256mb_ms']:.0f} ms) | "
                  f"{r['warm_cpu_ms']:.1f} ms ({r['warm_cpu_at_256mb_ms']:.0f} ms) | "
                  f"{r['reconnect_handshakes']:.0f} ({r['reconnect_resumed']:.0f}), {r['reconnect_cpu_ms']:.1f} ms ({r['reconnect_cpu_at_256mb_ms']:.0f} ms) | "
                  f"{size(r['peak_rss_end_bytes'])} |")
    print(f"\nCPU per cold handshake: {doc['cpu_per_handshake_ms']:.2f} ms "
          f"({doc['cpu_per_handshake_at_256mb_ms']:.1f} ms at 256 MB); key exchange: {doc['key_exchange']}.")


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    figures = load(directory, "figures.json")
    lam = load(directory, "lambda.json") or {}
    package = load(directory, "package.json")
    conc = load(directory, "concurrency.json")
    if conc and not (figures or lam or package or load(directory, "invocation.json")):
        concurrency_section(conc)  # bench/run --only concurrency: that table alone
        return
    rows = []  # (number, figure, ours, reference, result, target, met)
    missing = []

    if figures:
        for c in figures["cases"]:
            f, r = c["figures"], c["ratios"]
            label = f'{c["files"]}-file {size(c["bytes"])}'
            a, na = f["auth_a"]["median_ns"], f["node_a"]["median_ns"]
            rows.append((
                "1", f"Authenticate, rule (a): {label}",
                f"{us_or_ms(a)} ({rate(c['bytes'], a)})",
                f"Node {figures['node']} listener: {us_or_ms(na)}",
                f"{r['node_a_over_auth_a']:.1f}x Node", "≥ 4x", r["node_a_over_auth_a"] >= 4,
            ))
        for c in figures["cases"]:
            f, r = c["figures"], c["ratios"]
            label = f'{c["files"]}-file, pretty {size(c["pretty_bytes"])}'
            b, nb = f["auth_b"]["median_ns"], f["node_b"]["median_ns"]
            rows.append((
                "1b", f"Authenticate, rule (b): {label}",
                us_or_ms(b), f"Node listener: {us_or_ms(nb)}",
                f"{r['node_b_over_auth_b']:.1f}x Node", "(own figure)", None,
            ))
        for c in figures["cases"]:
            f, r = c["figures"], c["ratios"]
            label = f'{c["files"]}-file {size(c["bytes"])}'
            p, fl = f["pipeline"]["median_ns"], f["floor"]["median_ns"]
            beside = f"floor (HMAC result, SHA-256 body + entries): {us_or_ms(fl)}"
            if "floor_contract" in f:
                beside += (f"; with the archive's event-id hash the contract adds: "
                           f"{us_or_ms(f['floor_contract']['median_ns'])} ({r['pipeline_over_floor_contract']:.2f}x)")
            rows.append((
                "2", f"Pipeline (check+classify+plan): {label}",
                f"{us_or_ms(p)} (parse {us_or_ms(f['parse']['median_ns'])}, plan {us_or_ms(f['plan']['median_ns'])})",
                beside, f"{r['pipeline_over_floor']:.2f}x floor", "≤ 2x", r["pipeline_over_floor"] <= 2,
            ))
    else:
        missing.append("1, 1b, 2 (figures.json)")

    cs = lam.get("coldstart")
    if cs:
        parts = []
        if "bundle_only_median_ms" in cs:
            parts.append(f"roots from the CA bundle only (as on AL2023): {cs['bundle_only_median_ms']:.2f} ms")
        parts.append(f"no root certificates: {cs['no_roots_median_ms']:.2f} ms")
        if "exec_floor_median_ms" in cs:
            parts.append(f"exec+connect floor (C): {cs['exec_floor_median_ms']:.2f} ms")
        rows.append((
            "3", "Cold start: process start to first /next",
            f"{cs['median_ms']:.2f} ms", "; ".join(parts),
            f"median of {cs['runs']}", "≤ 10 ms", cs["median_ms"] <= 10,
        ))
        if "event_bus_median_ms" in cs:
            # The same binary with EVENT_BUS_NAME set: its EventBridge client is built at init.
            rows.append((
                "3", "Cold start with the event bus (EVENT_BUS_NAME set)",
                f"{cs['event_bus_median_ms']:.2f} ms",
                f"unset, interleaved: {cs['median_ms']:.2f} ms",
                f"{cs['event_bus_extra_ms']:+.2f} ms (median of per-run differences)", "(own figure)", None,
            ))
        else:
            missing.append("3 with the event bus (cold start)")
    else:
        missing.append("3 (cold start)")

    fo = lam.get("fanout")
    if fo:
        i, m, q = fo["instant"], fo["moto"], fo.get("sequential")
        beside = (f"one by one: {i['requests']:.0f} calls ≈ {i['sequential_estimate_ms']:.0f} ms")
        if q:
            beside += f" (measured, MAX_CONCURRENCY=1: {q['round_trips']:.0f} round trips, {q['delayed_median_ms']:.0f} ms)"
        beside += (f"; behind moto instead: {m['delayed_median_ms']:.0f} ms with the delay, "
                   f"{m['no_delay_median_ms']:.0f} ms without (moto's own time)")
        rows.append((
            "4", f"Fan-out: 50-file confirmed, +{fo['delay_ms']} ms per S3/SNS call",
            f"{i['delayed_median_ms']:.0f} ms end to end ({i['no_delay_median_ms']:.0f} ms without delay)",
            beside, f"{i['round_trips']:.1f} round trips", "≤ 3",
            # Three round trips and a fraction of one delay's jitter.
            i["round_trips"] <= 3.3,
        ))
    else:
        missing.append("4 (fan-out)")

    mem = lam.get("memory")
    if mem:
        six = mem["sizes"]["mem-6MiB"]
        tiny = mem["sizes"]["tiny"]
        b64 = mem["sizes"].get("mem-6MiB (base64)")
        ref = f"{tiny['peak_rss_median_bytes'] / MiB:.1f} MiB for a 2 KB delivery; +{mem['rss_per_body_byte']:.2f} MiB per MiB of body"
        if b64:
            ref += f"; base64 event: {b64['peak_rss_median_bytes'] / MiB:.1f} MiB"
        rows.append((
            "5", f"Peak RSS, whole process: {size(six['bytes'])} confirmed delivery",
            f"{six['peak_rss_median_bytes'] / MiB:.1f} MiB", ref,
            f"{100 * six['peak_rss_median_bytes'] / (128 * MiB):.0f}% of 128 MB", "≤ 40 MiB",
            six["peak_rss_median_bytes"] <= 40 * MiB,
        ))
    else:
        missing.append("5 (memory)")

    inv = load(directory, "invocation.json")
    if inv:
        front = "behind a keep-alive front" if inv["cases"][0]["keep_alive_front"] else "moto direct (Connection: close)"
        for c in inv["cases"]:
            large = c["files"] > 1
            # Targets: 50 files within 3x (hashing + invocation floor); 1 file within about
            # 1.1 ms (2x the invocation floor plus its three AWS calls, on this machine).
            met = c["ratio_to_floor"] <= 3 if large else c["webhook_cpu_ms"] <= 1.1
            rows.append((
                "7", f"CPU per invocation, whole process: {c['files']}-file {size(c['body_bytes'])} confirmed",
                f"{c['webhook_cpu_ms']:.2f} ms",
                f"invocation floor (lambda_runtime, event read as JSON): {c['floor_function_cpu_ms']:.2f} ms "
                f"(echo: {c['echo_function_cpu_ms']:.2f} ms); mandatory hashing: {c['hash_floor_ms']:.3f} ms; "
                f"{front}, median of {c['rounds']} rounds of {c['invocations_per_round']}",
                f"{c['ratio_to_floor']:.1f}x floor", "≤ 3x floor" if large else "≤ 1.1 ms", met,
            ))
            bus = c.get("event_bus")
            if bus:
                # The same binary with EVENT_BUS_NAME naming a bus on moto whose rule sends
                # every event to a queue, in the same rounds; met when every entry arrived.
                arrived = bus["entries_arrived"] == bus["entries_sent"] and bus["not_200"] == 0
                repeats = bus.get("entries_repeated", 0)
                repeats = f" ({repeats} arrived twice)" if repeats else ""
                rows.append((
                    "7", f"CPU per invocation with the event bus: {c['files']}-file {size(c['body_bytes'])} confirmed",
                    f"{bus['cpu_ms']:.2f} ms",
                    f"without the bus, same binary and rounds: {c['webhook_cpu_ms']:.2f} ms; "
                    f"{bus['entries_arrived']} of {bus['entries_sent']} entries reached the bus rule's queue{repeats}; "
                    f"mean over all rounds (clock ticks): {bus['ticks_cpu_ms'] - c['webhook_ticks_cpu_ms']:+.2f} ms",
                    f"{bus['extra_cpu_ms']:+.2f} ms ({100 * (bus['ratio_to_without'] - 1):+.0f}%, median of per-round differences)",
                    "every entry arrives", arrived,
                ))
            else:
                missing.append(f"7 with the event bus, {c['files']}-file (invocation-bench --event-bus)")
    else:
        missing.append("7 (CPU per invocation)")

    if package and package.get("zip_bytes"):
        tls = ", ".join(package.get("tls", [])) or "?"
        rows.append((
            "6", "arm64 bootstrap, zip -9",
            size(package["zip_bytes"]),
            f"{size(package['bytes'])} unzipped, {package.get('arch', '?')}; TLS: {tls}",
            f"{100 * package['zip_bytes'] / (5 * MiB):.0f}% of limit", "≤ 5 MiB",
            package["zip_bytes"] <= 5 * MiB and not package.get("forbidden"),
        ))
        # The bus is configuration (EVENT_BUS_NAME, read at start), not a build option.
        rows.append((
            "6", "arm64 bootstrap with the event bus",
            f"{size(package['zip_bytes'])}: the same zip",
            "one binary with or without the bus: EVENT_BUS_NAME is read at start and the EventBridge client is in every build",
            "+0 B", "(own figure)", None,
        ))
    else:
        missing.append("6 (package: " + ((package or {}).get("error") or "not measured") + ")")

    node_table = node_rows(lam, missing)

    header = ("#", "Figure", "Ours (Rust, median)", "Beside it", "Result", "Target", "Met")
    failed = print_table(header, rows)
    if node_table:
        print("\nBeside the listener a customer writes from Extracta's docs "
              "(bench/node/lambda-listener.js: the same emulator, moto and proxy, in the same rounds):\n")
        node_header = ("Figure", "Ours (Rust)", f"Node.js {lam.get('node_version', '')} listener".replace("  ", " "),
                       "Node / Rust", "Met (no slower)")
        failed |= print_table(node_header, node_table)
    previous = prev_rows(lam, inv)
    if previous:
        print("\nBeside the previous build (`--prev`), in the same run; met when no worse "
              f"(within {100 * (NO_WORSE - 1):.0f}%):\n")
        failed |= print_table(("Figure", "This build", "Previous build", "Change", "Met"), previous)
    meta = []
    if figures:
        meta.append(f"figures 1-2: median of {figures['rounds']} interleaved rounds of {figures['sample_ms']} ms samples")
    if lam.get("load"):
        meta.append(f"load average at start: {lam['load']}")
    if meta:
        print("\n" + "; ".join(meta) + ".")
    if conc:
        concurrency_section(conc)
    if missing:
        print("\nNot measured: " + "; ".join(missing), file=sys.stderr)
    sys.exit(1 if failed or missing else 0)


if __name__ == "__main__":
    main()
