#!/usr/bin/env python3
"""Cold start, fan-out latency and memory of the real `webhook` binary (figures 3-5).

The binary runs as Lambda runs it: a process started with only its environment, talking
to a Lambda Runtime API (a small emulator in this file) and to S3/SNS (moto_server, here
behind a delaying HTTP proxy for the fan-out figure). Prints one JSON document.

    .venv/bin/python bench/lambda_driver.py --bin target/release/webhook \
        --deliveries DIR [--only coldstart,fanout,memory] [--runs N] [--out FILE]

DIR holds the signed sample deliveries `FIGURES_DUMP=DIR cargo bench -p shared --bench
figures` writes. moto_server is taken from .venv (scripts/dev-setup installs it).
"""

import argparse
import asyncio
import base64
import json
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"
BUCKET = "bench-results"
NEXT = "/2018-06-01/runtime/invocation/next"


def die(message):
    print(f"lambda_driver: {message}", file=sys.stderr)
    sys.exit(1)


def log(message):
    print(f"lambda_driver: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_ns():
    return time.monotonic_ns()


# --- The function's environment ---------------------------------------------------


def function_env(runtime_api, endpoint, secret, topics, extra=None):
    """Everything the process sees: Lambda's variables, the function's configuration
    and static credentials; no profile files, no instance metadata."""
    env = {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": "webhook",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench-access-key",
        "AWS_SECRET_ACCESS_KEY": "bench-secret-key-not-real",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": endpoint,
        "RESULTS_BUCKET": BUCKET,
        "CONFIRMED_TOPIC_ARN": topics["confirmed"],
        "FAILED_TOPIC_ARN": topics["failed"],
        "EXTRACTA_WEBHOOK_SECRET": secret,
    }
    env.update(extra or {})
    return env


FAKE_TOPICS = {
    "confirmed": f"arn:aws:sns:{REGION}:123456789012:bench-confirmed",
    "failed": f"arn:aws:sns:{REGION}:123456789012:bench-failed",
}


def http_api_event(body, signature, as_base64=False):
    """An API Gateway HTTP API (payload 2.0) event carrying `body` (bytes)."""
    text = base64.b64encode(body).decode() if as_base64 else body.decode()
    return json.dumps(
        {
            "version": "2.0",
            "routeKey": "POST /webhook",
            "rawPath": "/webhook",
            "rawQueryString": "",
            "headers": {
                "content-type": "application/json",
                "content-length": str(len(body)),
                "x-webhook-signature": signature,
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "bench",
                "domainName": "bench.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "bench",
                "http": {
                    "method": "POST",
                    "path": "/webhook",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.1",
                    "userAgent": "bench",
                },
                "requestId": "bench",
                "routeKey": "POST /webhook",
                "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000",
                "timeEpoch": 0,
            },
            "body": text,
            "isBase64Encoded": as_base64,
        }
    ).encode()


# --- Lambda Runtime API emulator ---------------------------------------------------


class RuntimeApi:
    """Hands out queued events on /next; records when each was handed out and answered."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.first_next = queue.Queue()
        self.counter = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != NEXT:
                    return self.reply(404, b"{}")
                api.first_next.put(now_ns())
                item = api.events.get()
                if item is None:
                    self.close_connection = True
                    return
                request_id, event = item
                self.send_response(200)
                for k, v in [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(event))),
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 900_000)),
                    ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:webhook"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                ]:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(event)
                self.wfile.flush()
                api.sent[request_id] = now_ns()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                at = now_ns()
                parts = self.path.split("/")
                kind = parts[-1]
                request_id = parts[-2] if len(parts) > 2 else ""
                self.reply(202, b'{"status":"OK"}')
                api.answers.put((kind, request_id, at, body))

            def reply(self, code, body):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.sent = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait_ready(self, timeout=30):
        """Waits for a /next (the function finished its init)."""
        try:
            return self.first_next.get(timeout=timeout)
        except queue.Empty:
            die("the function never asked for an event (GET /next) within 30 s")

    def invoke(self, event, timeout=120):
        """Queues one event; returns (status code, seconds from hand-out to answer)."""
        self.counter += 1
        request_id = f"bench-{self.counter}"
        self.events.put((request_id, event))
        try:
            kind, rid, at, body = self.answers.get(timeout=timeout)
        except queue.Empty:
            die(f"no answer to {request_id} within {timeout} s")
        if kind != "response" or rid != request_id:
            die(f"{request_id}: the function reported {kind} for {rid}: {body[:300]!r}")
        reply = json.loads(body)
        return reply.get("statusCode"), (at - self.sent[request_id]) / 1e9, reply

    def stop(self):
        for _ in range(64):
            self.events.put(None)
        self.server.shutdown()


class Function:
    """One webhook process."""

    def __init__(self, binary, env):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [binary], env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log
        )

    def status(self):
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    fields[k] = int(v.split()[0]) * 1024
        return fields

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


# --- moto and the delaying proxy -----------------------------------------------------


class Moto:
    def __init__(self):
        server = os.path.join(ROOT, ".venv", "bin", "moto_server")
        if not os.access(server, os.X_OK):
            die(f"{server} is missing: run scripts/dev-setup (installs moto[server] into .venv)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [server, "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1).read()
                break
            except Exception:
                if time.time() > deadline or self.proc.poll() is not None:
                    die("moto_server did not start")
                time.sleep(0.1)
        import boto3  # from .venv, with moto

        kw = dict(
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="bench-access-key",
            aws_secret_access_key="bench-secret-key-not-real",
        )
        boto3.client("s3", **kw).create_bucket(Bucket=BUCKET)
        sns = boto3.client("sns", **kw)
        self.topics = {name: sns.create_topic(Name=f"bench-{name}")["TopicArn"] for name in ("confirmed", "failed")}

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class LoopServer:
    """An asyncio TCP server on 127.0.0.1 (a free port) running `self.handle` on a
    background thread's event loop; sets `self.port`."""

    def serve_in_background(self):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start():
            self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(start(), self.loop)
        ready.wait(10)


class DelayProxy(LoopServer):
    """An HTTP/1.1 proxy that holds each request `delay` seconds before forwarding it.

    Requests are delimited by their headers (Content-Length or chunked); responses are
    piped back as they come. Counts requests and the delay actually applied."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.delay = 0.0
        self.requests = 0
        self.delayed_total = 0.0
        self.serve_in_background()
        self.url = f"http://127.0.0.1:{self.port}"

    def reset(self, delay):
        self.delay, self.requests, self.delayed_total = delay, 0, 0.0

    async def handle(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pump():
            try:
                while data := await up_reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        back = asyncio.create_task(pump())
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    headers[k.strip().lower()] = v.strip().lower()
                self.requests += 1
                if self.delay:
                    t = time.monotonic()
                    await asyncio.sleep(self.delay)
                    self.delayed_total += time.monotonic() - t
                up_writer.write(head)
                if headers.get(b"transfer-encoding") == b"chunked":
                    while True:
                        line = await reader.readuntil(b"\r\n")
                        up_writer.write(line)
                        size = int(line.split(b";")[0], 16)
                        if size == 0:
                            while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                                up_writer.write(trailer)
                            up_writer.write(b"\r\n")
                            break
                        up_writer.write(await reader.readexactly(size + 2))
                else:
                    remaining = int(headers.get(b"content-length", b"0"))
                    while remaining:
                        chunk = await reader.read(min(remaining, 65536))
                        if not chunk:
                            raise asyncio.IncompleteReadError(b"", remaining)
                        up_writer.write(chunk)
                        remaining -= len(chunk)
                await up_writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            up_writer.close()
            back.cancel()


class InstantAws(LoopServer):
    """A stand-in for S3 and SNS that answers at once: PutObject with an ETag, PublishBatch
    with every entry successful. moto handles one request at a time, so behind it part of
    an added delay hides in moto's queue; behind this, the added time is exactly the
    round trips on the critical path."""

    PUBLISHED = (
        b'<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult>'
        b"<Successful/><Failed/></PublishBatchResult><ResponseMetadata><RequestId>bench</RequestId>"
        b"</ResponseMetadata></PublishBatchResponse>"
    )

    def __init__(self):
        self.serve_in_background()

    async def handle(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    headers[k.strip().lower()] = v.strip().lower()
                if headers.get(b"expect") == b"100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                if headers.get(b"transfer-encoding") == b"chunked":
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        if size == 0:
                            while await reader.readuntil(b"\r\n") != b"\r\n":
                                pass
                            break
                        await reader.readexactly(size + 2)
                else:
                    await reader.readexactly(int(headers.get(b"content-length", b"0")))
                if head.startswith(b"POST"):  # SNS: the query protocol posts a form
                    body, extra = self.PUBLISHED, b"Content-Type: text/xml\r\n"
                else:  # S3 PutObject
                    body, extra = b"", b'ETag: "bench"\r\n'
                writer.write(b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()


# --- The figures -------------------------------------------------------------------------


def load(deliveries, name):
    with open(os.path.join(deliveries, f"{name}.json"), "rb") as f:
        body = f.read()
    with open(os.path.join(deliveries, f"{name}.sig")) as f:
        signature = f.read().strip()
    return body, signature


def coldstart(binary, secret, runs):
    """Process start (just before fork/exec) to the first GET /next, no network at init.

    A raw listening socket stands in for the Runtime API, so the timestamp is taken as
    soon as the request arrives. Interleaved with the function's default start, to show
    what its init spends: the same binary with the root certificates limited to the CA
    bundle (as on provided.al2023, whose /etc/ssl/certs holds only bundles) and with none
    at all, and a minimal C program that only connects and sends the request (the floor
    of fork/exec/connect on this machine)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(30)
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    env = function_env(address, "http://127.0.0.1:9", secret, FAKE_TOPICS)
    scratch = tempfile.mkdtemp(prefix="coldstart-")
    empty = os.path.join(scratch, "empty")
    os.mkdir(empty)
    bundle = next((p for p in ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]
                   if os.path.exists(p)), None)
    variants = {"default": (binary, env)}
    if bundle:
        variants["bundle_only"] = (binary, {**env, "SSL_CERT_FILE": bundle, "SSL_CERT_DIR": empty})
    variants["no_roots"] = (binary, {**env, "SSL_CERT_FILE": os.path.join(empty, "none.pem"), "SSL_CERT_DIR": empty})
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc:
        floor_bin = os.path.join(scratch, "floor")
        subprocess.run([cc, "-O2", "-o", floor_bin, os.path.join(ROOT, "bench", "coldstart_floor.c")], check=True)
        variants["exec_floor"] = (floor_bin, env)

    def once(program, env):
        t0 = now_ns()
        proc = subprocess.Popen([program], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            proc.kill()
            die(f"{program} never connected to the Runtime API: {proc.communicate()[1][-500:]!r}")
        data = b""
        while b"\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        t1 = now_ns()
        if not data.startswith(f"GET {NEXT}".encode()):
            die(f"expected GET {NEXT}, got {data[:80]!r}")
        proc.kill()
        proc.wait()
        conn.close()
        return (t1 - t0) / 1e6

    samples = {name: [] for name in variants}
    for program, venv in variants.values():
        once(program, venv)  # page cache warm, as on a warm Lambda host
    for _ in range(runs):
        # Interleaved, so every variant sees the same machine load.
        for name, (program, venv) in variants.items():
            samples[name].append(once(program, venv))
    listener.close()
    shutil.rmtree(scratch, ignore_errors=True)
    out = {"runs": runs, "median_ms": statistics.median(samples["default"]), "bundle": bundle}
    for name, values in samples.items():
        out[f"{name}_median_ms"] = statistics.median(values)
        out[f"{name}_samples_ms"] = values
    return out


def fanout(binary, secret, deliveries, runs):
    """End-to-end time of a 50-file confirmed delivery with every S3/SNS request held
    20 ms, against the same with no delay, interleaved in one warm process.

    Round trips = (delayed - undelayed) / the delay the proxy actually applied. Measured
    behind the proxy twice: in front of an S3/SNS that answers at once (InstantAws: the
    exact count of round trips on the critical path) and in front of moto (what a local
    stack really takes; moto serves one request at a time, so part of the delay hides in
    its queue). The same with MAX_CONCURRENCY=1 is the one-by-one comparison."""
    body, signature = load(deliveries, "fanout-50-file-1MiB")
    event = http_api_event(body, signature)
    moto = Moto()
    instant = InstantAws()
    result = {"delay_ms": 20, "runs": runs, "bytes": len(body)}
    try:
        for label, upstream, extra, n in [
            ("instant", instant.port, {}, runs),
            ("moto", moto.port, {}, runs),
            ("sequential", instant.port, {"MAX_CONCURRENCY": "1"}, max(2, runs // 3)),
        ]:
            proxy = DelayProxy(upstream)
            api = RuntimeApi()
            fn = Function(binary, function_env(api.address, proxy.url, secret, moto.topics, extra))
            api.wait_ready()
            proxy.reset(0.0)
            status, _, reply = api.invoke(event)  # warm-up: connections, credentials
            if status != 200:
                die(f"fan-out warm-up answered {status}: {reply.get('body')}\n{fn.stop()[-2000:]}")
            delays = (0.0, 0.020)
            times = {d: [] for d in delays}
            applied, requests = [], []
            for _ in range(n):
                for delay in delays:
                    proxy.reset(delay)
                    status, seconds, reply = api.invoke(event)
                    if status != 200:
                        die(f"fan-out answered {status}: {reply.get('body')}\n{fn.stop()[-2000:]}")
                    times[delay].append(seconds)
                    requests.append(proxy.requests)
                    if delay:
                        applied.append(proxy.delayed_total / max(proxy.requests, 1))
            fn.stop()
            api.stop()
            fast, slow = statistics.median(times[0.0]), statistics.median(times[0.020])
            per_request = statistics.median(applied)
            out = {
                "upstream": "moto" if upstream == moto.port else "instant",
                "max_concurrency": extra.get("MAX_CONCURRENCY", "16 (default)"),
                "runs": n,
                "requests": statistics.median(requests),
                "no_delay_median_ms": fast * 1e3,
                "delayed_median_ms": slow * 1e3,
                "applied_delay_ms": per_request * 1e3,
                "round_trips": (slow - fast) / per_request,
                "no_delay_samples_ms": [t * 1e3 for t in times[0.0]],
                "delayed_samples_ms": [t * 1e3 for t in times[0.020]],
            }
            out["sequential_estimate_ms"] = (fast + out["requests"] * per_request) * 1e3
            result[label] = out
            log(f"fan-out {label}: {out['round_trips']:.1f} round trips at 20 ms")
    finally:
        moto.stop()
    return result


def memory(binary, secret, deliveries, runs):
    """Whole-process peak RSS (VmHWM) of a fresh process that handled one delivery."""
    manifest = json.load(open(os.path.join(deliveries, "manifest.json")))
    moto = Moto()
    sizes = {}
    try:
        cases = [("tiny", False), ("mem-1MiB", False), ("mem-2MiB", False), ("mem-4MiB", False)]
        cases += [("mem-6MiB", False), ("mem-6MiB", True)]
        for _ in range(runs):
            for name, as_base64 in cases:
                body, signature = load(deliveries, name)
                event = http_api_event(body, signature, as_base64)
                api = RuntimeApi()
                fn = Function(binary, function_env(api.address, moto.url, secret, moto.topics))
                api.wait_ready()
                init = fn.status()["VmHWM"]
                status, seconds, reply = api.invoke(event)
                api.wait_ready()  # back at /next: the request is over
                peak = fn.status()["VmHWM"]
                fn.stop()
                api.stop()
                if status != 200:
                    die(f"{name} answered {status}: {reply.get('body')}")
                key = name + (" (base64)" if as_base64 else "")
                s = sizes.setdefault(key, {"bytes": len(body), "event_bytes": len(event), "peak": [], "init": []})
                s["peak"].append(peak)
                s["init"].append(init)
            log(f"memory: round done ({len(sizes)} sizes)")
    finally:
        moto.stop()
    out = {}
    for key, s in sizes.items():
        out[key] = {
            "bytes": s["bytes"],
            "event_bytes": s["event_bytes"],
            "peak_rss_median_bytes": statistics.median(s["peak"]),
            "init_rss_median_bytes": statistics.median(s["init"]),
            "peak_samples_bytes": s["peak"],
        }
    # Least-squares slope of peak RSS over body size (plain events, 1 to 6 MiB).
    pts = [(v["bytes"], v["peak_rss_median_bytes"]) for k, v in out.items() if k.startswith("mem-") and "base64" not in k]
    mx = statistics.mean(x for x, _ in pts)
    my = statistics.mean(y for _, y in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    return {
        "runs": runs,
        "sizes": out,
        "rss_per_body_byte": slope,
        "intercept_bytes": my - slope * mx,
        "files": manifest["mem-6MiB"]["files"],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True, help="the release webhook binary")
    p.add_argument("--deliveries", required=True, help="dir written by FIGURES_DUMP")
    p.add_argument("--only", default="coldstart,fanout,memory")
    p.add_argument("--runs", type=int, default=21, help="cold starts; fan-out and memory use fewer")
    p.add_argument("--out")
    a = p.parse_args()
    binary = os.path.abspath(a.bin)
    if not os.access(binary, os.X_OK):
        die(f"{binary} is not built: cargo build --release -p webhook")
    manifest = json.load(open(os.path.join(a.deliveries, "manifest.json")))
    secret = manifest["secret"]
    only = set(a.only.split(","))
    doc = {}
    if "coldstart" in only:
        doc["coldstart"] = coldstart(binary, secret, a.runs)
        log(f"cold start: median {doc['coldstart']['median_ms']:.2f} ms")
    if "fanout" in only:
        doc["fanout"] = fanout(binary, secret, a.deliveries, max(3, a.runs // 3))
    if "memory" in only:
        doc["memory"] = memory(binary, secret, a.deliveries, max(1, a.runs // 7))
    text = json.dumps(doc, indent=2)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
