#!/usr/bin/env python3
"""Capacity model of the Extracta webhook receiver: where it breaks, and what it costs.

For a delivery rate (deliveries per second), a number of files per delivery and a mix of
the four events, it computes the requests per second each AWS service receives, the
Lambda concurrency those deliveries need, which documented quota binds first, what the
sender (Extracta) sees there, the drain of the redrive queue after an outage, and the
cost per million deliveries. docs/capacity.md prints its tables with this script and
explains every input; the numbers below are inputs, not results, and each one says where
it comes from. Standard library only (Python 3.11).

    bench/capacity/model.py                        # the docs/capacity.md tables
    bench/capacity/model.py --rate 300 --files 10  # one case, every figure
    bench/capacity/model.py --mix confirmed=1 --api-rate 1000 --json
    bench/capacity/model.py --backlog 45000        # the redrive drain after an outage

What one delivery costs in requests (docs/contract.md sections 3-10):

- S3 PutObject: the archive copy (`If-None-Match: *`) and one object per file entry of a
  routed event (processed, edited, confirmed, failed). A key that already holds an object
  (a later edit, a repeat, a redrive) costs one more conditional PutObject and one
  HeadObject ("newest wins", section 9); an exact repeat of a body the same UTC day costs
  a 412 on the archive copy plus one HeadObject.
- SNS PublishBatch: confirmed and failed only, one message per file, 10 per call.
- EventBridge PutEvents: one entry per routed file (one per delivery for any other event),
  10 entries per call and at most 256 KiB per call (section 10).
- SQS: one SendMessage per delivery answered 202; the redrive's receive and delete.
- Lambda: one invocation per delivery (plus one per redriven record).

Duration per delivery, the figure Lambda concurrency and cost follow from, is not measured
on AWS: docs/performance.md measures it on a 2-core machine against local stand-ins. The
model rebuilds it from those measurements: CPU per invocation (figure 7: 0.77 ms for 1
file, 25.8 ms for 50 files; the slower machine's 1.90 / 42.6 ms as the p99 case), scaled
to the vCPU share Lambda gives the template's 256 MB (1,769 MB = one vCPU), plus the
round trips on the critical path (figure 4: 5.1 for 50 files: ceil(51/16) waves of S3
writes, one of publishes) times a per-call latency that is a parameter (20 ms p50, the
figure-4 delay, and 100 ms p99).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field, replace

ROUTED = ("processed", "edited", "confirmed", "failed")
PUBLISHED = ("confirmed", "failed")
KIB = 1024

# --- Documented quotas (default values; docs/capacity.md links each page) ----------------
#: name -> (default, unit, adjustable, source page title, URL)
QUOTAS = {
    "api_account_rps": (
        10_000, "requests/s per account and Region (burst 5,000)", "yes (the burst: no)",
        "Amazon API Gateway quotas",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"),
    "lambda_concurrency": (
        1_000, "concurrent executions per account and Region", "yes (new accounts start lower)",
        "Lambda quotas", "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"),
    "lambda_scaling": (
        1_000, "new execution environments per 10 s per function", "no",
        "Lambda scaling behavior", "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html"),
    "s3_put_per_prefix": (
        3_500, "PUT/COPY/POST/DELETE per second per partitioned prefix", "no (S3 partitions further under sustained load)",
        "Best practices design patterns: optimizing Amazon S3 performance",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html"),
    "s3_get_per_prefix": (
        5_500, "GET/HEAD per second per partitioned prefix", "no (as above)",
        "Best practices design patterns: optimizing Amazon S3 performance",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html"),
    "sns_messages": (
        30_000, "published messages/s per account (us-east-1; 9,000 us-west-2/eu-west-1; 1,500 or 300 elsewhere)", "yes",
        "Amazon Simple Notification Service endpoints and quotas",
        "https://docs.aws.amazon.com/general/latest/gr/sns.html"),
    "eventbridge_putevents": (
        10_000, "PutEvents requests/s per account (us-east-1; 2,400 us-east-2, lower elsewhere)", "yes",
        "Amazon EventBridge quotas", "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"),
    "kms_symmetric": (
        10_000, "shared cryptographic requests/s (20,000 or more in larger Regions)", "yes",
        "Request quotas - AWS Key Management Service",
        "https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html"),
    "secrets_get": (
        10_000, "GetSecretValue requests/s", "no",
        "AWS Secrets Manager quotas", "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html"),
    "sqs_standard": (
        math.inf, "API calls/s per action on a standard queue: 'nearly unlimited'", "n/a",
        "Amazon SQS message quotas",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"),
}

# --- Prices, us-east-1 list prices (docs/deploy.md's Costs; check your Region) ----------
PRICE = {
    "lambda_gb_s_arm": 0.0000133334,  # per GB-second, arm64, first tier
    "lambda_request": 0.20 / 1e6,
    "apigw_http_request": 1.00 / 1e6,  # per 512 KiB metered step
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,  # GET and HEAD
    "sns_request": 0.50 / 1e6,  # per 64 KiB chunk of a published message
    "sqs_request": 0.40 / 1e6,
    "kms_request": 0.03 / 10_000,
    "eventbridge_event": 1.00 / 1e6,  # per 64 KiB chunk of a custom event entry
    "secrets_call": 0.05 / 10_000,
}


@dataclass(frozen=True)
class Params:
    """Everything the model takes; the defaults are the template's and docs/performance.md's."""

    rate: float = 100.0
    """Deliveries per second arriving at the API."""
    files: int = 1
    """File entries per delivery."""
    mix: dict = field(default_factory=lambda: {e: 0.25 for e in ROUTED})
    """Share of deliveries per event: processed, edited, confirmed, failed, other."""
    entry_bytes: int = 2_000
    """Bytes of one file entry (performance.md: 1.9 KiB for one file, 20 KiB each for 50)."""
    rewrite_fraction: float = 0.10
    """Share of file writes whose key already holds an object (edits, repeats, redrives)."""
    repeat_fraction: float = 0.01
    """Share of deliveries that are an exact repeat of a body already archived that day."""
    eventbridge: bool = True
    """EVENT_BUS_NAME set (the template creates a bus)."""
    archive_first: bool = True
    """Newest wins waits for the archive copy's answer before the file writes (+1 round trip)."""
    max_concurrency: int = 50
    """MAX_CONCURRENCY: S3/SNS requests in flight per delivery (the function's default)."""
    memory_mb: int = 256
    """The template's MemorySize."""
    cpu_ms_1: tuple = (0.77, 1.90)
    """CPU per 1-file delivery, p50 and p99 (performance.md figure 7)."""
    cpu_ms_50: tuple = (25.77, 42.6)
    """CPU per 50-file 1 MiB delivery, p50 and p99 (performance.md figure 7)."""
    call_ms: tuple = (20.0, 100.0)
    """Latency of one S3/SNS/EventBridge call, p50 and p99 (figure 4 injects 20 ms)."""
    api_rate: float = 50.0
    """ApiThrottlingRateLimit (the HTTP API stage's steady rate)."""
    api_burst: float = 100.0
    """ApiThrottlingBurstLimit."""
    reserved_concurrency: int | None = None
    """ReservedConcurrency; None: unset (the account's unreserved pool)."""
    account_concurrency: int = 1_000
    """The account's Lambda concurrency quota in the Region."""
    redrive_concurrency: int = 5
    """The redrive event source mapping's MaximumConcurrency."""
    queued_fraction: float = 0.0
    """Share of live deliveries answered 202 and queued (0 when S3/SNS keep up)."""
    kms: str = "sse-s3"
    """Bucket encryption: sse-s3 (no KMS), sse-kms-bucket-key (the template's choice with a key), sse-kms."""
    sns_quota: float = QUOTAS["sns_messages"][0]
    eventbridge_quota: float = QUOTAS["eventbridge_putevents"][0]
    kms_quota: float = QUOTAS["kms_symmetric"][0]
    s3_partitions: int = 1
    """Partitions S3 gives the bucket today: 1 for a new bucket; S3 adds them under sustained load."""
    body_overhead_bytes: int = 400
    """Body bytes besides the entries (event, brackets), for API Gateway's 512 KiB metering."""

    def share(self, event: str) -> float:
        total = sum(self.mix.values())
        return self.mix.get(event, 0.0) / total if total else 0.0

    @property
    def routed(self) -> float:
        return sum(self.share(e) for e in ROUTED)

    @property
    def published(self) -> float:
        return sum(self.share(e) for e in PUBLISHED)

    @property
    def vcpu(self) -> float:
        """Lambda's CPU share at this memory size (1,769 MB = one vCPU)."""
        return min(self.memory_mb / 1769.0, 6.0)


def per_delivery(p: Params) -> dict:
    """Requests one average delivery makes, by service and operation."""
    f, x = p.files, p.rewrite_fraction
    entries_per_call = max(1, min(10, (256 * KIB) // max(1, p.entry_bytes + 300)))
    eb_calls_routed = math.ceil(f / entries_per_call) if f else 0
    return {
        "s3_put": 1 + p.routed * f * (1 + x),
        "s3_head": p.routed * f * x + p.repeat_fraction,
        "s3_get": 0.0,
        "sns_calls": p.published * math.ceil(f / 10),
        "sns_messages": p.published * f,
        "eb_calls": (p.routed * eb_calls_routed + p.share("other")) if p.eventbridge else 0.0,
        "eb_entries": (p.routed * f + p.share("other")) if p.eventbridge else 0.0,
        "sqs_send": p.queued_fraction,
    }


def round_trips(p: Params, redrive: bool = False) -> float:
    """Calls on a delivery's critical path (performance.md figure 4 measures them for 50 files).

    A redrive reads the archive copy instead of writing it, and meets keys its live attempt
    already wrote with this very delivery: each refused write costs a HeadObject and
    nothing more (docs/contract.md section 9, "left as it is")."""
    f = p.files if p.routed else 0
    if redrive:
        # The archive copy read, then the file writes MAX_CONCURRENCY at a time.
        trips = 1 + (math.ceil(f / p.max_concurrency) if f else 0)
        trips += 1 if f else 0  # the refused writes' HeadObject
    else:
        writes = math.ceil((f + (0 if p.archive_first else 1)) / p.max_concurrency) if f else 0
        trips = (1 if p.archive_first or not f else 0) + writes
        # A key that already holds an object: a HeadObject and a second conditional PutObject
        # in the wave that meets it (expected over the delivery's files).
        trips += 2 * (1 - (1 - p.rewrite_fraction) ** f)
    if f and (p.published or p.eventbridge):
        trips += max(1, math.ceil(f * p.entry_bytes / (2 * KIB * KIB)))
    elif not f and p.eventbridge:
        trips += 1  # the archive pointer's PutEvents
    return trips


def duration_s(p: Params, q: int, redrive: bool = False) -> float:
    """Wall time of one invocation at quantile index q (0 = p50, 1 = p99)."""
    lo, hi = p.cpu_ms_1[q], p.cpu_ms_50[q]
    cpu_ms = lo + (hi - lo) * (max(p.files, 1) - 1) / 49
    return (cpu_ms / p.vcpu + round_trips(p, redrive) * p.call_ms[q]) / 1000


def concurrency_limit(p: Params) -> float:
    return p.reserved_concurrency if p.reserved_concurrency else p.account_concurrency


def evaluate(p: Params) -> dict:
    """Every figure of one case: request rates, concurrency, limits, the first bound, cost."""
    d = per_delivery(p)
    rps = {k: v * p.rate for k, v in d.items()}
    d50, d99 = duration_s(p, 0), duration_s(p, 1)
    conc50, conc99 = p.rate * d50, p.rate * d99
    kms_per_s3 = {"sse-s3": 0.0, "sse-kms-bucket-key": 0.0, "sse-kms": 1.0}[p.kms]
    rps["kms"] = (rps["s3_put"] + rps["s3_get"]) * kms_per_s3
    # A GetSecretValue per new execution environment: at most one per environment started,
    # the scale-up from zero to the p99 concurrency within Lambda's 10-second scaling window.
    rps["secrets"] = conc99 / 10
    archive_prefix = max((p.share(e) for e in (*ROUTED, "other")), default=0) * p.rate
    limits = [
        # (name, demand, limit, what the sender sees when it binds)
        ("HTTP API stage throttle (ApiThrottlingRateLimit)", p.rate, p.api_rate,
         "429 from API Gateway; the function never runs; delivered only if Extracta retries"),
        ("API Gateway account throttle", p.rate, QUOTAS["api_account_rps"][0],
         "429 from API Gateway, shared with every API in the account"),
        ("Lambda concurrency (" + ("reserved" if p.reserved_concurrency else "account") + ")",
         conc99, concurrency_limit(p),
         "500 from API Gateway (Lambda throttled the invoke); nothing stored"),
        ("Lambda scaling rate (1,000 environments / 10 s)", conc99 / 10, QUOTAS["lambda_scaling"][0] / 10,
         "500 from API Gateway while Lambda scales (a burst from zero)"),
        ("S3 PUT, the day's archive prefix of one event", archive_prefix, QUOTAS["s3_put_per_prefix"][0],
         "503 SlowDown to the SDK; retried; archive copy not stored after the retries: 502"),
        ("S3 PUT, whole bucket at its current partitions", rps["s3_put"],
         QUOTAS["s3_put_per_prefix"][0] * p.s3_partitions,
         "503 SlowDown to the SDK; retried; file objects late: 202 and the redrive queue"),
        ("S3 GET/HEAD, whole bucket", rps["s3_head"] + rps["s3_get"],
         QUOTAS["s3_get_per_prefix"][0] * p.s3_partitions,
         "503 SlowDown on HeadObject; retried, then 202"),
        ("SNS published messages", rps["sns_messages"], p.sns_quota,
         "Throttling (400) to the SDK; retried, then 202 and the redrive queue"),
        ("EventBridge PutEvents", rps["eb_calls"], p.eventbridge_quota,
         "ThrottlingException to the SDK; retried, then 202 and the redrive queue"),
        ("KMS cryptographic requests", rps["kms"], p.kms_quota,
         "ThrottlingException under S3's PutObject: 503 to the SDK; retried, then 202 or 502"),
        ("Secrets Manager GetSecretValue (cold starts)", rps["secrets"], QUOTAS["secrets_get"][0],
         "new environments fail to start: 500 from API Gateway"),
    ]
    rows = [
        {"limit": n, "demand": dem, "quota": lim, "use": (dem / lim if lim else math.inf), "sender_sees": s}
        for n, dem, lim, s in limits
        if lim != math.inf
    ]
    first = max(rows, key=lambda r: r["use"])
    return {
        "params": {k: v for k, v in asdict(p).items() if k in ("rate", "files", "mix")},
        "per_delivery": d,
        "rps": rps,
        "duration_s": {"p50": d50, "p99": d99},
        "round_trips": round_trips(p),
        "concurrency": {"p50": conc50, "p99": conc99},
        "limits": rows,
        "first_bound": first,
        "cost_per_million": cost_per_million(p, d, d50),
    }


def cost_per_million(p: Params, d: dict, d50: float) -> dict:
    """US dollars per million deliveries, by item (free tiers ignored)."""
    m = 1e6
    body = p.files * p.entry_bytes + p.body_overhead_bytes
    entry_chunks = math.ceil((p.entry_bytes + 500) / (64 * KIB))
    s3_put, s3_get = d["s3_put"], d["s3_head"] + d["s3_get"]
    kms_per = {"sse-s3": 0.0, "sse-kms-bucket-key": 0.0, "sse-kms": 1.0}[p.kms] * (s3_put + s3_get)
    cost = {
        "lambda": m * (PRICE["lambda_request"] + p.memory_mb / 1024 * d50 * PRICE["lambda_gb_s_arm"]),
        "api_gateway": m * math.ceil(body / (512 * KIB)) * PRICE["apigw_http_request"],
        "s3": m * (s3_put * PRICE["s3_put"] + s3_get * PRICE["s3_get"]),
        "sns": m * d["sns_messages"] * entry_chunks * PRICE["sns_request"],
        "eventbridge": m * d["eb_entries"] * entry_chunks * PRICE["eventbridge_event"],
        "sqs": m * p.queued_fraction * 3 * PRICE["sqs_request"],
        "kms": m * kms_per * PRICE["kms_request"],
    }
    # A queued delivery is invoked once more by the redrive and reads its archive copy.
    cost["lambda"] += m * p.queued_fraction * (
        PRICE["lambda_request"] + p.memory_mb / 1024 * duration_s(p, 0, redrive=True) * PRICE["lambda_gb_s_arm"])
    cost["s3"] += m * p.queued_fraction * PRICE["s3_get"]
    cost["total"] = sum(cost.values())
    return cost


def redrive(p: Params, backlog: int) -> dict:
    """Draining `backlog` queued deliveries at MaximumConcurrency, one record per invocation."""
    d50, d99 = duration_s(p, 0, redrive=True), duration_s(p, 1, redrive=True)
    per_s = p.redrive_concurrency / d50
    f = p.files * p.routed
    return {
        "records_per_s": per_s,
        "drain_s": backlog / per_s,
        # As if every record took the p99 time: an upper bound, not a percentile.
        "drain_s_p99": backlog * d99 / p.redrive_concurrency,
        # Each record: the archive copy read, then every file key, already written by the
        # live attempt with this delivery: a refused conditional PutObject and a
        # HeadObject each (an upper bound: a key the live attempt never reached is one
        # PutObject), then the publishes.
        "s3_get_per_s": per_s,
        "s3_head_per_s": per_s * f,
        "s3_put_per_s": per_s * f,
        "sns_messages_per_s": per_s * p.published * p.files,
        "sqs_per_s": per_s * 2,  # receive + delete (batch size 1)
        "concurrency": p.redrive_concurrency,
    }


RATES = (10, 100, 1_000, 10_000)
FILES = (1, 10, 50)


def table(base: Params) -> list[dict]:
    """The docs/capacity.md grid. Unless the caller set --api-rate, the stage throttle is left
    out (infinite) so that the first bound shown is an AWS quota, not our own 429."""
    out = []
    for files in FILES:
        entry = 2_000 if files == 1 else 20 * KIB
        for rate in RATES:
            out.append(evaluate(replace(base, rate=rate, files=files, entry_bytes=entry)))
    return out


def fmt(x: float) -> str:
    if x == math.inf:
        return "unlimited"
    if float(x).is_integer():
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def markdown(base: Params, backlog: int) -> str:
    lines = [
        "| deliveries/s | files | S3 PUT/s | S3 HEAD/s | SNS PublishBatch/s (messages/s) | EventBridge PutEvents/s | "
        "duration p50 / p99 | concurrency p50 / p99 | binds first (demand / quota) | sender sees | $ per million |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    short = {"S3 PUT, whole bucket at its current partitions": "S3 PUT (new bucket: one partition)"}
    for r in table(base):
        rps, b = r["rps"], r["first_bound"]
        over = sorted((x for x in r["limits"] if x["use"] >= 1), key=lambda x: -x["use"])
        if over:
            bound = "; then ".join(f"{short.get(x['limit'], x['limit'])} ({fmt(x['demand'])} / {fmt(x['quota'])})" for x in over)
        else:
            bound = f"nothing (closest: {short.get(b['limit'], b['limit'])} at {b['use']:.0%})"
        lines.append(
            f"| {fmt(r['params']['rate'])} | {r['params']['files']} | {fmt(rps['s3_put'])} | {fmt(rps['s3_head'])} | "
            f"{fmt(rps['sns_calls'])} ({fmt(rps['sns_messages'])}) | {fmt(rps['eb_calls'])} | "
            f"{r['duration_s']['p50'] * 1000:.0f} / {r['duration_s']['p99'] * 1000:.0f} ms | "
            f"{fmt(r['concurrency']['p50'])} / {fmt(r['concurrency']['p99'])} | {bound} | "
            f"{b['sender_sees'] if b['use'] >= 1 else '200'} | {r['cost_per_million']['total']:.2f} |")
    lines += ["", "Redrive after an outage (backlog of "
              f"{backlog:,} deliveries, MaximumConcurrency {base.redrive_concurrency}):", "",
              "| files | records/s | drain (p50 records) | drain (every record at p99) | S3 GET/s | S3 HEAD/s | S3 PUT/s | SNS messages/s |",
              "|---|---|---|---|---|---|---|---|"]
    for files in FILES:
        q = redrive(replace(base, files=files, entry_bytes=2_000 if files == 1 else 20 * KIB), backlog)
        lines.append(
            f"| {files} | {fmt(q['records_per_s'])} | {q['drain_s'] / 60:.1f} min | {q['drain_s_p99'] / 60:.1f} min | "
            f"{fmt(q['s3_get_per_s'])} | {fmt(q['s3_head_per_s'])} | {fmt(q['s3_put_per_s'])} | {fmt(q['sns_messages_per_s'])} |")
    return "\n".join(lines)


def parse_mix(text: str) -> dict:
    mix = {}
    for part in text.split(","):
        name, _, share = part.partition("=")
        name = name.strip().removeprefix("extraction.")
        if name not in (*ROUTED, "other"):
            raise argparse.ArgumentTypeError(f"unknown event {name!r}: one of {', '.join((*ROUTED, 'other'))}")
        mix[name] = float(share)
    if not sum(mix.values()) > 0:
        raise argparse.ArgumentTypeError("the mix must have a positive share")
    return mix


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, help="deliveries per second (one case instead of the table)")
    ap.add_argument("--files", type=int, default=1)
    ap.add_argument("--mix", type=parse_mix, help="e.g. processed=0.4,confirmed=0.4,failed=0.1,other=0.1")
    ap.add_argument("--entry-bytes", type=int)
    ap.add_argument("--rewrite-fraction", type=float)
    ap.add_argument("--api-rate", type=float)
    ap.add_argument("--reserved", type=int, help="ReservedConcurrency")
    ap.add_argument("--account-concurrency", type=int)
    ap.add_argument("--redrive-concurrency", type=int, help="MaximumConcurrency of the redrive mapping")
    ap.add_argument("--call-ms", type=float, nargs=2, metavar=("P50", "P99"))
    ap.add_argument("--kms", choices=("sse-s3", "sse-kms-bucket-key", "sse-kms"))
    ap.add_argument("--partitions", type=int, help="S3 partitions of the bucket (1 = new bucket)")
    ap.add_argument("--backlog", type=int, default=45_000, help="queued deliveries after an outage")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    changes = {k: v for k, v in {
        "mix": a.mix, "entry_bytes": a.entry_bytes, "rewrite_fraction": a.rewrite_fraction,
        "api_rate": a.api_rate, "reserved_concurrency": a.reserved, "account_concurrency": a.account_concurrency,
        "redrive_concurrency": a.redrive_concurrency, "call_ms": tuple(a.call_ms) if a.call_ms else None,
        "kms": a.kms, "s3_partitions": a.partitions}.items() if v is not None}
    base = replace(Params(), **changes)
    if a.rate is None:
        if a.api_rate is None:
            base = replace(base, api_rate=math.inf)
        if a.json:
            json.dump({"table": table(base), "redrive": [redrive(replace(base, files=f), a.backlog) for f in FILES]},
                      sys.stdout, indent=1, default=str)
        else:
            print(markdown(base, a.backlog))
        return 0
    p = replace(base, rate=a.rate, files=a.files)
    r = evaluate(p)
    r["redrive"] = redrive(p, a.backlog)
    if a.json:
        json.dump(r, sys.stdout, indent=1, default=str)
        print()
        return 0
    print(f"{fmt(p.rate)} deliveries/s, {p.files} files each, mix {p.mix}")
    for k, v in r["rps"].items():
        print(f"  {k:14} {fmt(v)}/s")
    print(f"  duration p50 {r['duration_s']['p50'] * 1000:.0f} ms, p99 {r['duration_s']['p99'] * 1000:.0f} ms "
          f"({r['round_trips']:.1f} round trips); concurrency p50 {fmt(r['concurrency']['p50'])}, p99 {fmt(r['concurrency']['p99'])}")
    for row in sorted(r["limits"], key=lambda x: -x["use"]):
        print(f"  {row['use']:7.1%}  {row['limit']}: {fmt(row['demand'])} of {fmt(row['quota'])}")
    b = r["first_bound"]
    print(f"binds first: {b['limit']}" if b["use"] >= 1 else "binds first: nothing")
    print(f"sender sees: {b['sender_sees'] if b['use'] >= 1 else '200'}")
    print("cost per million deliveries: " + ", ".join(f"{k} ${v:.2f}" for k, v in r["cost_per_million"].items()))
    q = r["redrive"]
    print(f"redrive of {a.backlog:,}: {fmt(q['records_per_s'])} records/s, drained in {q['drain_s'] / 60:.1f} min "
          f"(p99 {q['drain_s_p99'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
