"""Runs the snippets of docs/consumers.md against moto and checks what they print.

Called by scripts/consumer-snippets (which installs the tools). Every message it publishes
is built the way the function builds it and validated against schemas/ first; the schemas
themselves are checked to accept their examples and to reject messages with a defect.
Ends with one 'N passed, N failed' line; exits non-zero on any failure.
"""
import copy
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCHEMAS = ROOT / "schemas"
PY = HERE / "python"
NODE = HERE / "node"
BUCKET = "extracta-results"
RECEIVED_AT = "2026-11-26T18:19:08.123Z"
passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def validator(name):
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return schema, Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(v, doc):
    return [e.message for e in v.iter_errors(doc)]


# ---- the schemas: examples pass, defects fail -------------------------------------------
V = {}
for path in sorted(SCHEMAS.glob("*.json")):
    schema, v = validator(path.stem)
    V[path.stem] = v
    bad = [errors(v, ex) for ex in schema.get("examples", [])]
    check(f"schema {path.name}: {len(bad)} examples valid", bad and not any(bad), bad)

good_confirmed = json.loads((SCHEMAS / "confirmed-message.json").read_text())["examples"][0]
good_failed = json.loads((SCHEMAS / "failed-message.json").read_text())["examples"][0]


def mutant(doc, f):
    doc = copy.deepcopy(doc)
    f(doc)
    return doc


DEFECTS = [
    ("confirmed-message", "an extra field", mutant(good_confirmed, lambda d: d.update(extra=1))),
    ("confirmed-message", "result and resultOmitted", mutant(good_confirmed, lambda d: d.update(resultOmitted=True))),
    ("confirmed-message", "neither result nor resultOmitted", mutant(good_confirmed, lambda d: d.pop("result"))),
    ("confirmed-message", "a missing field instead of null", mutant(good_confirmed, lambda d: d.pop("url"))),
    ("confirmed-message", "an upper-case eventId", mutant(good_confirmed, lambda d: d.update(eventId=d["eventId"].upper()))),
    ("confirmed-message", "the failed event", mutant(good_confirmed, lambda d: d.update(event="extraction.failed"))),
    ("confirmed-message", "an extra s3 member", mutant(good_confirmed, lambda d: d["s3"].update(region="x"))),
    ("confirmed-message", "receivedAt without milliseconds", mutant(good_confirmed, lambda d: d.update(receivedAt="2026-11-26T18:19:08Z"))),
    ("failed-message", "a result", mutant(good_failed, lambda d: d.update(result={}))),
    ("failed-message", "no error member", mutant(good_failed, lambda d: d.pop("error"))),
    ("message-attributes", "an empty value", {"event": "extraction.failed", "status": ""}),
    ("message-attributes", "an unknown attribute", {"event": "extraction.failed", "fileName": "a.pdf"}),
    ("message-attributes", "no event", {"status": "failed"}),
    ("redrive-message", "no reason", {"archived": "extracta/_deliveries/2026/11/26/_none/" + "a" * 64 + ".json"}),
    ("redrive-message", "another reason", {"archived": "_deliveries/2026/11/26/_none/" + "a" * 64 + ".json", "reason": "x"}),
    ("answer-200", "a negative count", {"event": None, "files": -1, "stored": [], "archived": "_deliveries/2026/11/26/_none/" + "a" * 64 + ".json", "published": 0}),
    ("answer-202", "queued false", {"event": None, "files": 0, "archived": "_deliveries/2026/11/26/_none/" + "a" * 64 + ".json", "queued": False}),
    ("answer-error", "retryable false", {"error": "x", "retryable": False}),
    ("answer-error", "an echoed field", {"error": "x", "signature": "y"}),
    ("object-metadata", "another metadata key", {"event": "_none", "event-id": "a" * 64, "received-at": RECEIVED_AT, "x": "1"}),
]
for name, what, doc in DEFECTS:
    check(f"schema {name} rejects {what}", errors(V[name], doc), "accepted")


# ---- docs/consumers.md quotes the snippet files verbatim ----------------------------------
doc = (ROOT / "docs/consumers.md").read_text()
quoted = 0
for m in re.finditer(r"<!-- snippet: (\S+) -->\n```\w*\n(.*?)```", doc, re.S):
    quoted += 1
    path, block = m.group(1), m.group(2)
    check(f"docs/consumers.md block {quoted} is in {path}", block in (ROOT / path).read_text(), block[:80])
check("docs/consumers.md quotes snippets", quoted >= 8, quoted)


# ---- messages built the way the function builds them ------------------------------------
def entry_bytes(entry: dict) -> bytes:
    return json.dumps(entry, separators=(",", ":")).encode()


def key_component(v):
    if not isinstance(v, str) or not v:
        return "_none" if not isinstance(v, (int, float)) or isinstance(v, bool) else json.dumps(v)
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "".join(f"%{b:02X}" for b in c.encode()) for c in v)
    return {".": "%2E", "..": "%2E%2E"}.get(safe, safe)


def build(event: str, entry: dict, omit: bool = False):
    """(message body dict, attributes dict, S3 key, stored bytes), as shared/src/message.rs builds them."""
    stored = entry_bytes(entry)
    kind = event.split(".")[1]
    key = "extracta/" + "/".join(key_component(entry.get(f)) for f in ("extractionId", "batchId", "fileId")) + f"/{kind}.json"
    message = {"event": event, "eventId": hashlib.sha256(event.encode() + b"\n" + stored).hexdigest()}
    for f in ("extractionId", "batchId", "fileId", "fileName", "status", "url"):
        message[f] = entry.get(f)
    if kind == "failed":
        message["error"] = entry.get("error")
    elif not omit:
        message["result"] = entry.get("result")
    message["s3"] = {"bucket": BUCKET, "key": key}
    message["receivedAt"] = RECEIVED_AT
    if omit:
        message["resultOmitted"] = True
    attributes = {"event": event}
    for f in ("extractionId", "batchId", "fileId", "status"):
        if isinstance(entry.get(f), str) and entry[f]:
            attributes[f] = entry[f]
    return message, attributes, key, stored


C1 = build("extraction.confirmed", {"extractionId": "-NxDocsA", "batchId": "-NxBatch1", "fileId": "-NxFile1", "fileName": "invoice-0001.pdf",
                                    "status": "confirmed", "result": {"invoice_number": "INV-0001", "total": 12.5}, "url": "https://files.example.invalid/1"})
# Too large for SNS: the message points to S3. A numeric batchId stays a number and is no attribute.
C2 = build("extraction.confirmed", {"extractionId": "-NxDocsA", "batchId": 7, "fileId": "-NxFile2", "fileName": "scan.pdf",
                                    "status": "confirmed", "result": {"pages": "x" * 270_000}, "url": None}, omit=True)
C3 = build("extraction.confirmed", {"extractionId": "-NxDocsB", "batchId": "-NxBatch2", "fileId": "-NxFile3", "fileName": "other.pdf",
                                    "status": "confirmed", "result": {"invoice_number": "INV-0003"}, "url": None})
F1 = build("extraction.failed", {"extractionId": "-NxDocsA", "batchId": "-NxBatch1", "fileId": "-NxFile4", "fileName": "unreadable.pdf",
                                 "status": "failed", "error": "The document could not be read", "url": None})
F2 = build("extraction.failed", {"extractionId": "-NxDocsA", "batchId": "-NxBatch1", "fileId": "-NxFile5", "error": "no status"})

for name, (message, attributes, key, stored) in {"C1": C1, "C2": C2, "C3": C3, "F1": F1, "F2": F2}.items():
    schema = "confirmed-message" if message["event"] == "extraction.confirmed" else "failed-message"
    check(f"fixture {name} is a valid {schema}", not errors(V[schema], message), errors(V[schema], message))
    check(f"fixture {name} attributes are valid", not errors(V["message-attributes"], attributes), errors(V["message-attributes"], attributes))
    size = len(json.dumps(message, separators=(",", ":"))) + sum(len(k) + 6 + len(v) for k, v in attributes.items())
    check(f"fixture {name} fits SNS only when its result is omitted", (size <= 262_144) and (len(stored) > 262_144) == ("resultOmitted" in message), size)


# ---- moto ---------------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()
endpoint = f"http://127.0.0.1:{port}"
moto = subprocess.Popen([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
           AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", PYTHONDONTWRITEBYTECODE="1")
os.environ.update({k: env[k] for k in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})


def run(name, argv, stdin=None, extra=None, text_out=False):
    """Runs a snippet; its stdout as JSON lines (or as text)."""
    out = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, env=dict(env, **(extra or {})))
    if out.returncode != 0:
        check(f"{name} exits 0", False, out.stderr[-2000:])
        return "" if text_out else []
    if text_out:
        return out.stdout.strip()
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


try:
    for _ in range(100):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit(f"consumer-snippets: moto_server did not start on {endpoint}")
    s3 = boto3.client("s3")
    sns = boto3.client("sns")
    for b in (BUCKET, "state-py-raw", "state-node-raw", "state-py-env", "state-node-env", "state-py-fifo", "state-py-other", "state-py-nobatch", "state-py-lambda", "state-py-sqs-lambda", "state-node-lambda"):
        s3.create_bucket(Bucket=b)
    confirmed = sns.create_topic(Name="extracta-confirmed")["TopicArn"]
    failed_topic = sns.create_topic(Name="extracta-failed")["TopicArn"]
    fifo = sns.create_topic(Name="extracta-confirmed.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]

    # The subscribe snippet makes every queue.
    sub = [sys.executable, str(PY / "subscribe.py")]
    queues = {}
    for who in ("py", "node"):
        queues[f"{who}-raw"] = run("subscribe.py", sub + [confirmed, f"{who}-raw", json.dumps({"extractionId": ["-NxDocsA"]})], text_out=True)
        queues[f"{who}-env"] = run("subscribe.py", sub + [failed_topic, f"{who}-env", json.dumps({"status": ["failed"]}), "--envelope"], text_out=True)
    queues["py-other"] = run("subscribe.py", sub + [confirmed, "py-other", json.dumps({"extractionId": [{"anything-but": ["-NxDocsA"]}]})], text_out=True)
    queues["py-nobatch"] = run("subscribe.py", sub + [confirmed, "py-nobatch", json.dumps({"batchId": [{"exists": False}]})], text_out=True)
    queues["py-fifo"] = run("subscribe.py", sub + [fifo, "py-fifo", json.dumps({"event": ["extraction.confirmed"]})], text_out=True)

    # What the function writes and publishes; C1 and F1 twice (a retried delivery).
    def store_and_publish(item, topic, group=False):
        message, attributes, key, stored = item
        metadata = {"event": message["event"], "event-id": message["eventId"], "received-at": message["receivedAt"]}
        assert not errors(V["object-metadata"], metadata), errors(V["object-metadata"], metadata)
        s3.put_object(Bucket=BUCKET, Key=key, Body=stored, ContentType="application/json", Metadata=metadata)
        extra = {"MessageGroupId": message["extractionId"], "MessageDeduplicationId": message["eventId"]} if group else {}
        sns.publish(TopicArn=topic, Message=json.dumps(message, separators=(",", ":")),
                    MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}, **extra)

    for item in (C1, C2, C3, C1):
        store_and_publish(item, confirmed)
    for item in (F1, F2, F1):
        store_and_publish(item, failed_topic)
    for item in (C1, C2, C3, C1):
        store_and_publish(item, fifo, group=True)

    got = s3.head_object(Bucket=BUCKET, Key=C2[2])["Metadata"]
    check("S3 metadata read back is a valid object-metadata", not errors(V["object-metadata"], got), got)

    def expect(name, lines, want, skipped):
        seen = [line for line in lines if "eventId" in line]
        check(f"{name}: each message once, filtered", [line["eventId"] for line in seen] == [w["eventId"] for w in want],
              json.dumps(seen)[:600])
        for line, w in zip(seen, want):
            check(f"{name}: {w['fileId']} read from {w['from']}", all(line.get(k) == v for k, v in w.items()), line)
        n = sum(1 for line in lines if "skipped" in line)
        check(f"{name}: {skipped} duplicate(s) skipped", n == skipped, n)

    c1 = {"eventId": C1[0]["eventId"], "fileId": "-NxFile1", "from": "message", "resultKeys": ["invoice_number", "total"]}
    c2 = {"eventId": C2[0]["eventId"], "fileId": "-NxFile2", "from": "s3", "resultKeys": ["pages"]}
    c3 = {"eventId": C3[0]["eventId"], "fileId": "-NxFile3", "from": "message"}
    f1 = {"eventId": F1[0]["eventId"], "fileId": "-NxFile4", "from": "message", "error": "The document could not be read"}

    consume_py = [sys.executable, str(PY / "consume.py")]
    consume_node = ["node", str(NODE / "consume.mjs")]
    expect("python consume.py, raw delivery", run("consume.py", consume_py + [queues["py-raw"]], extra={"DEDUP_BUCKET": "state-py-raw"}), [c1, c2], 1)
    expect("node consume.mjs, raw delivery", run("consume.mjs", consume_node + [queues["node-raw"]], extra={"DEDUP_BUCKET": "state-node-raw"}), [c1, c2], 1)
    expect("python consume.py, SNS envelope", run("consume.py", consume_py + [queues["py-env"]], extra={"DEDUP_BUCKET": "state-py-env"}), [f1], 1)
    expect("node consume.mjs, SNS envelope", run("consume.mjs", consume_node + [queues["node-env"]], extra={"DEDUP_BUCKET": "state-node-env"}), [f1], 1)
    expect("filter anything-but", run("consume.py", consume_py + [queues["py-other"]], extra={"DEDUP_BUCKET": "state-py-other"}), [c3], 0)
    expect("filter exists: false (numeric batchId)", run("consume.py", consume_py + [queues["py-nobatch"]], extra={"DEDUP_BUCKET": "state-py-nobatch"}), [c2], 0)
    # FIFO: in publish order, grouped by extractionId; SNS drops the duplicate by its dedup id.
    fifo_lines = run("consume.py", consume_py + [queues["py-fifo"]], extra={"DEDUP_BUCKET": "state-py-fifo"})
    expect("python consume.py, FIFO", fifo_lines, [dict(c1, group="-NxDocsA"), dict(c2, group="-NxDocsA"), dict(c3, group="-NxDocsB")], 0)

    # SNS -> Lambda: the event Lambda passes, with C1 delivered twice.
    def sns_record(item, topic):
        message, attributes = item[0], item[1]
        return {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": topic + ":sub",
                "Sns": {"Type": "Notification", "MessageId": "m", "TopicArn": topic, "Subject": None,
                        "Message": json.dumps(message, separators=(",", ":")), "Timestamp": "2026-11-26T18:19:08.200Z",
                        "MessageAttributes": {k: {"Type": "String", "Value": v} for k, v in attributes.items()}}}

    sns_event = json.dumps({"Records": [sns_record(C1, confirmed), sns_record(C2, confirmed), sns_record(C1, confirmed)]})
    lines = run("lambda_handler.py", [sys.executable, str(PY / "lambda_handler.py")], stdin=sns_event,
                extra={"DEDUP_BUCKET": "state-py-lambda", "PYTHONPATH": str(PY)})
    expect("python lambda_handler.py, SNS event", lines[:-1], [c1, c2], 0)
    check("python lambda_handler.py reports no batch item failures", lines[-1:] == [{"batchItemFailures": []}], lines[-1:])
    # SQS -> Lambda with ReportBatchItemFailures: a raw body, an enveloped one, a repeat, and
    # a message whose S3 object is missing (its record fails, its claim is released).
    def sqs_record(message_id, body):
        return {"messageId": message_id, "receiptHandle": "r", "body": body, "attributes": {},
                "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1"}

    lost = dict(C2[0], s3={"bucket": BUCKET, "key": "extracta/-NxDocsA/7/-NxGone/confirmed.json"},
                eventId=hashlib.sha256(b"lost").hexdigest())
    check("fixture lost is a valid confirmed-message", not errors(V["confirmed-message"], lost), errors(V["confirmed-message"], lost))
    f1_envelope = json.dumps({"Type": "Notification", "MessageId": "n", "TopicArn": failed_topic,
                              "Message": json.dumps(F1[0]), "Timestamp": "2026-11-26T18:19:08.200Z"})
    sqs_event = json.dumps({"Records": [sqs_record("q1", json.dumps(C1[0])), sqs_record("q2", f1_envelope),
                                        sqs_record("q3", json.dumps(lost)), sqs_record("q4", json.dumps(C1[0]))]})
    lines = run("lambda_handler.py", [sys.executable, str(PY / "lambda_handler.py")], stdin=sqs_event,
                extra={"DEDUP_BUCKET": "state-py-sqs-lambda", "PYTHONPATH": str(PY)})
    expect("python lambda_handler.py, SQS event", lines[:-1], [c1, f1], 0)
    check("python lambda_handler.py lists only the failed record", lines[-1:] == [{"batchItemFailures": [{"itemIdentifier": "q3"}]}], lines[-1:])
    released = s3.list_objects_v2(Bucket="state-py-sqs-lambda", Prefix="seen/").get("Contents", [])
    check("python lambda_handler.py released the failed record's claim",
          sorted(o["Key"] for o in released) == sorted(f"seen/{m[0]['eventId']}" for m in (C1, F1)), released)

    lines = run("lambda.mjs", ["node", "--input-type=module", "-e",
                               "import { handler } from " + json.dumps((NODE / "lambda.mjs").as_uri()) + ";"
                               "import { readFileSync } from 'node:fs'; await handler(JSON.parse(readFileSync(0, 'utf8')));"],
                stdin=sns_event, extra={"DEDUP_BUCKET": "state-node-lambda"})
    expect("node lambda.mjs, SNS event", lines, [{"eventId": c1["eventId"], "status": "confirmed", "from": "message", "fileId": "-NxFile1"},
                                                 {"eventId": c2["eventId"], "status": "confirmed", "from": "s3", "fileId": "-NxFile2"}], 0)

    # ---- EventBridge: rules on the bus, their SQS and Lambda targets (docs/contract.md §10) ----
    events = boto3.client("events")
    bus = "extracta-events"
    events.create_event_bus(Name=bus)
    for b in ("state-py-bus-failed", "state-py-bus-ns", "state-py-bus-status", "state-py-bus-ext", "state-py-bus-lambda", "state-node-bus-lambda"):
        s3.create_bucket(Bucket=b)
    rule = [sys.executable, str(PY / "rule.py"), bus]
    patterns = {
        "bus-failed": {"source": ["extracta.ai"], "detail-type": ["extraction.failed"]},
        "bus-ns": {"source": ["extracta.ai"], "detail-type": [{"prefix": "classification."}]},
        "bus-status": {"source": ["extracta.ai"], "detail": {"status": ["confirmed"]}},
        "bus-ext": {"source": ["extracta.ai"], "detail": {"extractionId": ["-NxDocsB"]}},
    }
    # The patterns docs/consumers.md shows are these, verbatim.
    for name, pattern in patterns.items():
        check(f"docs/consumers.md shows the {name} pattern", json.dumps(pattern) in doc, json.dumps(pattern))
    bus_queues = {name: run("rule.py", rule + [name, json.dumps(pattern)], text_out=True) for name, pattern in patterns.items()}

    # A future namespace: its archive copy, and the pointer the function puts for it.
    future_body = json.dumps({"event": "classification.processed", "result": [{"documentType": "invoice"}, {"documentType": "receipt"}]}).encode()
    future_key = "extracta/_deliveries/2026/11/26/classification.processed/" + hashlib.sha256(future_body).hexdigest() + ".json"
    s3.put_object(Bucket=BUCKET, Key=future_key, Body=future_body, ContentType="application/json")
    pointer = {"event": "classification.processed", "eventId": hashlib.sha256(b"classification.processed\n" + future_body).hexdigest(),
               "archived": {"bucket": BUCKET, "key": future_key}, "files": 2, "receivedAt": RECEIVED_AT}
    check("fixture pointer is a valid archive-pointer", not errors(V["archive-pointer"], pointer), errors(V["archive-pointer"], pointer))

    def put(detail_type, detail):
        entry = {"Source": "extracta.ai", "DetailType": detail_type, "Detail": json.dumps(detail, separators=(",", ":")), "EventBusName": bus}
        out = events.put_events(Entries=[entry])
        assert out["FailedEntryCount"] == 0, out

    # As the function puts them: one entry per file (C1 twice: a redrive), then the pointer.
    for item in (C1, C2, C3, F1, C1):
        put(item[0]["event"], item[0])
    put("classification.processed", pointer)

    drain_bus = [sys.executable, str(PY / "bus_target.py")]
    bus_env = {"PYTHONPATH": str(PY)}
    d1 = {"eventId": C1[0]["eventId"], "fileId": "-NxFile1", "source": "detail", "detailType": "extraction.confirmed"}
    d2 = {"eventId": C2[0]["eventId"], "fileId": "-NxFile2", "source": "s3"}
    d3 = {"eventId": C3[0]["eventId"], "fileId": "-NxFile3", "source": "detail"}
    df = {"eventId": F1[0]["eventId"], "fileId": "-NxFile4", "detailType": "extraction.failed", "status": "failed"}
    dp = {"eventId": pointer["eventId"], "detailType": "classification.processed", "source": "archive", "files": 2}

    def expect_bus(name, lines, want, skipped):
        seen = [line for line in lines if "eventId" in line]
        check(f"{name}: each event once, matched", sorted(line["eventId"] for line in seen) == sorted(w["eventId"] for w in want),
              json.dumps(seen)[:600])
        for w in want:
            line = next((line for line in seen if line["eventId"] == w["eventId"]), {})
            check(f"{name}: {w.get('fileId') or w.get('detailType')} read from {w.get('source', 'detail')}",
                  all(line.get(k) == v for k, v in w.items()), line)
        n = sum(1 for line in lines if "skipped" in line)
        check(f"{name}: {skipped} duplicate(s) skipped", n == skipped, n)

    expect_bus("rule on one event (SQS target)", run("bus_target.py", drain_bus + [bus_queues["bus-failed"]], extra=dict(bus_env, DEDUP_BUCKET="state-py-bus-failed")), [df], 0)
    expect_bus("rule on a namespace prefix (SQS target)", run("bus_target.py", drain_bus + [bus_queues["bus-ns"]], extra=dict(bus_env, DEDUP_BUCKET="state-py-bus-ns")),
               [dict(dp, bodyEvent="classification.processed")], 0)
    expect_bus("rule on a status inside detail (SQS target)", run("bus_target.py", drain_bus + [bus_queues["bus-status"]], extra=dict(bus_env, DEDUP_BUCKET="state-py-bus-status")), [d1, d2, d3], 1)
    expect_bus("rule on an extraction id (SQS target)", run("bus_target.py", drain_bus + [bus_queues["bus-ext"]], extra=dict(bus_env, DEDUP_BUCKET="state-py-bus-ext")), [d3], 0)

    # A rule's Lambda target gets the same event as the queue's body.
    def envelope(detail_type, detail):
        return json.dumps({"version": "0", "id": "e", "detail-type": detail_type, "source": "extracta.ai", "account": "123456789012",
                           "time": "2026-11-26T18:19:08Z", "region": "us-east-1", "resources": [], "detail": detail})

    for item, want in ((C2, d2), (C2, None)):
        lines = run("bus_target.py", drain_bus, stdin=envelope("extraction.confirmed", item[0]), extra=dict(bus_env, DEDUP_BUCKET="state-py-bus-lambda"))
        expect_bus("python bus_target.handler (Lambda target)" + ("" if want else ", again"), lines, [want] if want else [], 0 if want else 1)
    lines = run("bus_target.mjs", ["node", "--input-type=module", "-e",
                                   "import { handler } from " + json.dumps((NODE / "bus_target.mjs").as_uri()) + ";"
                                   "import { readFileSync } from 'node:fs'; await handler(JSON.parse(readFileSync(0, 'utf8')));"],
                stdin=envelope("extraction.confirmed", C2[0]), extra={"DEDUP_BUCKET": "state-node-bus-lambda"})
    expect_bus("node bus_target.mjs (Lambda target)", lines, [dict(d2, detailType="extraction.confirmed")], 0)
    lines = run("bus_target.mjs", ["node", "--input-type=module", "-e",
                                   "import { handler } from " + json.dumps((NODE / "bus_target.mjs").as_uri()) + ";"
                                   "import { readFileSync } from 'node:fs'; await handler(JSON.parse(readFileSync(0, 'utf8')));"],
                stdin=envelope("classification.processed", pointer), extra={"DEDUP_BUCKET": "state-node-bus-lambda"})
    expect_bus("node bus_target.mjs, an archive pointer", lines, [dp], 0)

    # An erasure notice: the target deletes its own copies of what was erased, and only those.
    s3.create_bucket(Bucket="state-py-erased")
    mine = ["copies/-NxDocsE/b1/f1.json", "copies/-NxDocsE/b1/f2.json", "copies/-NxDocsE/b2/f1.json", "copies/-NxOther/b1/f1.json"]
    for key in mine:
        s3.put_object(Bucket="state-py-erased", Key=key, Body=b"{}")
    notice = json.loads((SCHEMAS / "erasure-notice.json").read_text())["examples"][0]
    for detail, deleted, left in (
        (dict(notice, extractionId="-NxDocsE", batchId="b1", fileId="f1"), 1, mine[1:]),
        (dict(notice, extractionId="-NxDocsE", batchId="b1", fileId="f1"), 0, mine[1:]),
        (dict(notice, extractionId="-NxDocsE", batchId=None, fileId=None), 2, mine[3:]),
    ):
        check("fixture notice is a valid erasure-notice", not errors(V["erasure-notice"], detail), errors(V["erasure-notice"], detail))
        lines = run("bus_target.py", drain_bus, stdin=envelope("receiver.erased", detail), extra=dict(bus_env, DEDUP_BUCKET="state-py-erased"))
        check(f"receiver.erased {detail['batchId']}/{detail['fileId']}: {deleted} copies deleted",
              [line.get("deleted") for line in lines] == [deleted], lines)
        have = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="state-py-erased").get("Contents", []))
        check(f"receiver.erased {detail['batchId']}/{detail['fileId']}: the other copies stay", have == sorted(left), have)
finally:
    moto.terminate()
    moto.wait(timeout=10)

print(f"consumer-snippets: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
