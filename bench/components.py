"""Groups a flat perf report (self time per symbol) into the components of an invocation.

Reads the lines of `perf report --no-children --sort dso,sym --stdio -g none` on stdin and
prints a Markdown table: each component's share of the function process's samples. The
first rule that matches a symbol decides its component, so the order below matters (the
SHA-256 rules before the crates that call them). bench/profile-invocation runs it.
"""

import re
import sys

# (component, what it is, pattern over "dso [.] symbol" or "dso [k] symbol")
COMPONENTS = [
    ("kernel", "socket I/O of the requests and of the runtime API, page faults, scheduling", r"\[k\]"),
    ("SHA-256, aws-lc", "our hashing: the HMAC, the archive copy's event-id, each entry's eventId", r"aws_lc_\w*sha256|SHA256"),
    ("SHA-256, sha2", "SigV4's payload hash of every S3 body and SNS form", r"sha2::"),
    ("SNS form encoding", "the SDK's query-protocol encoding of each PublishBatch", r"urlencoding|aws_smithy_query"),
    ("PutEvents JSON encoding", "the SDK's JSON serialization of each PutEvents request (with the bus)", r"aws_smithy_json|aws_sdk_eventbridge::protocol_serde"),
    ("bus entries", "shared::bus: each entry's detail, its size and batching (with the bus)", r"shared::bus::|shared::batch::"),
    ("event decoding", "serde_json over the runtime's event, lambda_runtime and lambda_http", r"serde_json|lambda_runtime|lambda_http|aws_lambda_events|webhook::lambda"),
    ("our pipeline", "shared: parse, unescape, verify, classify, plan; the handler", r"shared::|webhook::"),
    ("AWS SDK", "per-call config, endpoint rules, request building, SigV4 (hashing aside), retries", r"aws_smithy|aws_sdk|aws_runtime|aws_sigv4|aws_types|aws_config"),
    ("HTTP and async runtime", "hyper, http, tokio, futures", r"hyper|httparse|http::|tokio|futures|tower|mio"),
    ("allocation and copying", "malloc, free, memmove, memcpy", r"malloc|_int_free|cfree|unlink_chunk|realloc|consolidate|memmove|memcpy|memset"),
]
OTHER = ("everything else", "core and alloc helpers not attributed to a crate, libc, tracing")


def main() -> None:
    case, deliveries = sys.argv[1], sys.argv[2]
    shares = {name: 0.0 for name, _, _ in COMPONENTS}
    shares[OTHER[0]] = 0.0
    rules = [(name, re.compile(pattern)) for name, _, pattern in COMPONENTS]
    for line in sys.stdin:
        m = re.match(r"\s*([\d.]+)%\s+(.*)", line)
        if not m:
            continue
        share, what = float(m.group(1)), m.group(2)
        name = next((n for n, rx in rules if rx.search(what)), OTHER[0])
        shares[name] += share
    if sum(shares.values()) == 0:
        sys.exit("components: no samples in the report")
    print(f"\nWhere the CPU of {deliveries} deliveries of {case} went (perf, self time):\n")
    print("| component | share | what it is |")
    print("|---|---|---|")
    for name, what in [(n, w) for n, w, _ in COMPONENTS] + [OTHER]:
        print(f"| {name} | {shares[name]:.1f}% | {what} |")


if __name__ == "__main__":
    main()
