#!/usr/bin/env python3
"""Unit tests of the capacity model (bench/capacity/model.py), run by `make test`.

Each test pins one rule the model must follow (the contract's request counts, the
measured round trips, the quota arithmetic), so that an edit that breaks a rule fails
here. Prints `capacity-model: N passed, N failed` for scripts/test's closing count.
"""

import contextlib
import io
import json
import math
import sys
import unittest
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model  # noqa: E402

ONLY = {  # a mix of one event
    e: {x: (1.0 if x == e else 0.0) for x in (*model.ROUTED, "other")} for e in (*model.ROUTED, "other")
}


# The duration tests are literal arithmetic on the documented inputs, never the model's own
# functions: the measured CPU (figure 7: 0.77 / 1.90 ms for one file, 25.77 / 42.6 ms for
# fifty, p50 / p99) times 1769 / 256 (Lambda gives 1,769 MB one vCPU, the template has
# 256 MB; docs/capacity.md), plus the calls on the critical path counted by hand from
# docs/contract.md at 20 / 100 ms a call.


def case(**kw):
    base = dict(rewrite_fraction=0.0, repeat_fraction=0.0, api_rate=math.inf)
    base.update(kw)
    return replace(model.Params(), **base)


class Requests(unittest.TestCase):
    def test_a_confirmed_file_is_two_puts_one_batch_one_event(self):
        d = model.per_delivery(case(files=1, mix=ONLY["confirmed"]))
        self.assertEqual((d["s3_put"], d["s3_head"], d["sns_calls"], d["sns_messages"], d["eb_calls"]), (2, 0, 1, 1, 1))

    def test_processed_and_edited_publish_nothing_to_sns(self):
        for e in ("processed", "edited"):
            d = model.per_delivery(case(files=10, mix=ONLY[e]))
            self.assertEqual((d["s3_put"], d["sns_calls"], d["eb_entries"]), (11, 0, 10), e)

    def test_an_unknown_event_is_the_archive_copy_and_one_bus_entry(self):
        d = model.per_delivery(case(files=50, mix=ONLY["other"]))
        self.assertEqual((d["s3_put"], d["sns_messages"], d["eb_calls"], d["eb_entries"]), (1, 0, 1, 1))

    def test_a_key_that_holds_an_object_costs_a_head_and_a_second_put(self):
        d = model.per_delivery(case(files=10, mix=ONLY["edited"], rewrite_fraction=1.0))
        self.assertEqual((d["s3_put"], d["s3_head"]), (1 + 2 * 10, 10))

    def test_an_exact_repeat_costs_one_head_for_the_archive_copy(self):
        d = model.per_delivery(case(files=1, mix=ONLY["processed"], repeat_fraction=1.0))
        self.assertEqual((d["s3_put"], d["s3_head"]), (2, 1))

    def test_sns_batches_ten_messages(self):
        self.assertEqual(model.per_delivery(case(files=50, mix=ONLY["failed"]))["sns_calls"], 5)
        self.assertEqual(model.per_delivery(case(files=11, mix=ONLY["failed"]))["sns_calls"], 2)

    def test_put_events_batches_ten_entries_within_256_kib(self):
        self.assertEqual(model.per_delivery(case(files=50, entry_bytes=20 * 1024))["eb_calls"], 5)
        # 100 KB entries: two fit in 256 KiB, so 25 calls for 50 entries.
        self.assertEqual(model.per_delivery(case(files=50, entry_bytes=100_000))["eb_calls"], 25)

    def test_no_bus_no_put_events(self):
        d = model.per_delivery(case(files=10, eventbridge=False))
        self.assertEqual((d["eb_calls"], d["eb_entries"]), (0, 0))


class Duration(unittest.TestCase):
    def test_round_trips_match_figure_4(self):
        # performance.md figure 4: 51 PutObject 16 at a time, then the publishes: 5 round trips
        # (measured 5.1), before newest wins waited for the archive copy.
        p = case(files=50, mix=ONLY["confirmed"], archive_first=False, entry_bytes=20 * 1024, max_concurrency=16)
        self.assertEqual(model.round_trips(p), 5)
        self.assertEqual(model.round_trips(replace(p, archive_first=True)), 6)
        # At the default MAX_CONCURRENCY, 50: the archive copy, one wave of 50 writes, the
        # publishes: 3 (figure 4 now).
        self.assertEqual(model.round_trips(replace(p, archive_first=True, max_concurrency=50)), 3)
        self.assertEqual(model.Params().max_concurrency, 50)

    def test_a_key_that_holds_an_object_adds_its_two_round_trips(self):
        p = case(files=1, mix=ONLY["edited"])
        # The archive copy, the file's write, the bus: 3. An older object at the key: its
        # refused write, a HeadObject and the write over it: 5.
        self.assertEqual(model.round_trips(p), 3)
        self.assertAlmostEqual(model.round_trips(replace(p, rewrite_fraction=1.0)), 5)

    def test_one_confirmed_file_takes_three_calls_and_its_cpu(self):
        # The archive copy, then the file object, then its message and entry side by side.
        p = case(files=1, mix=ONLY["confirmed"])
        self.assertAlmostEqual(model.duration_s(p, 0), (0.77 * 1769 / 256 + 3 * 20) / 1000)  # 65.3 ms
        self.assertAlmostEqual(model.duration_s(p, 1), (1.90 * 1769 / 256 + 3 * 100) / 1000)  # 313.1 ms
        # At 1,769 MB a CPU millisecond is a wall millisecond.
        self.assertAlmostEqual(model.duration_s(replace(p, memory_mb=1769), 0), (0.77 + 3 * 20) / 1000)

    def test_fifty_files_take_one_wave_of_writes(self):
        # The archive copy; 50 writes at once (MAX_CONCURRENCY 50); one wave of publishes
        # (50 x 20 KiB = 1,000 KiB, under the 2 MiB a delivery publishes at once): 3 calls.
        p = case(files=50, mix=ONLY["confirmed"], entry_bytes=20 * 1024)
        self.assertAlmostEqual(model.duration_s(p, 0), (25.77 * 1769 / 256 + 3 * 20) / 1000)  # 238.1 ms
        self.assertAlmostEqual(model.duration_s(p, 1), (42.6 * 1769 / 256 + 3 * 100) / 1000)  # 594.4 ms
        # At 16, four waves (16, 16, 16, 2): 6 calls.
        p16 = replace(p, max_concurrency=16)
        self.assertAlmostEqual(model.duration_s(p16, 0), (25.77 * 1769 / 256 + 6 * 20) / 1000)  # 298.1 ms
        self.assertAlmostEqual(model.duration_s(p16, 1), (42.6 * 1769 / 256 + 6 * 100) / 1000)  # 894.4 ms

    def test_an_archive_only_delivery_is_its_copy_and_its_pointer(self):
        p = case(files=1, mix=ONLY["other"])
        self.assertAlmostEqual(model.duration_s(p, 0), (0.77 * 1769 / 256 + 2 * 20) / 1000)
        self.assertAlmostEqual(model.duration_s(replace(p, eventbridge=False), 0), (0.77 * 1769 / 256 + 1 * 20) / 1000)

    def test_a_redrive_reads_the_copy_and_meets_its_own_writes(self):
        # The archive copy read (not written); the file's conditional write, refused as the
        # live attempt stored it; the HeadObject that finds this very delivery (left as it
        # is, no second write); the publish: 4 calls.
        p = case(files=1, mix=ONLY["confirmed"])
        self.assertAlmostEqual(model.duration_s(p, 0, redrive=True), (0.77 * 1769 / 256 + 4 * 20) / 1000)
        self.assertAlmostEqual(model.duration_s(p, 1, redrive=True), (1.90 * 1769 / 256 + 4 * 100) / 1000)

    def test_concurrency_is_rate_times_duration(self):
        r = model.evaluate(case(rate=400, files=1, mix=ONLY["confirmed"]))
        self.assertAlmostEqual(r["concurrency"]["p50"], 400 * (0.77 * 1769 / 256 + 3 * 20) / 1000)  # 26.1
        self.assertAlmostEqual(r["concurrency"]["p99"], 400 * (1.90 * 1769 / 256 + 3 * 100) / 1000)  # 125.3

    def test_less_memory_means_less_cpu_and_longer_deliveries(self):
        slow = model.duration_s(case(files=50, memory_mb=128), 0)
        fast = model.duration_s(case(files=50, memory_mb=1769), 0)
        self.assertGreater(slow - fast, (25.77 / (128 / 1769) - 25.77) / 1000 * 0.99)


class Bounds(unittest.TestCase):
    def test_the_stage_throttle_answers_429_above_its_rate(self):
        r = model.evaluate(case(rate=100, api_rate=50))
        self.assertIn("stage throttle", r["first_bound"]["limit"])
        self.assertTrue(r["first_bound"]["sender_sees"].startswith("429"))

    def test_reserved_concurrency_binds_as_a_500(self):
        r = model.evaluate(case(rate=100, files=50, reserved_concurrency=20, s3_partitions=100))
        self.assertIn("Lambda concurrency (reserved)", r["first_bound"]["limit"])
        self.assertTrue(r["first_bound"]["sender_sees"].startswith("500"))

    def test_a_new_bucket_binds_at_3500_puts(self):
        # 1 confirmed file: 2 PUT per delivery; 1,749/s is under one partition, 1,751/s over.
        under = model.evaluate(case(rate=1749, mix=ONLY["confirmed"]))
        over = model.evaluate(case(rate=1751, mix=ONLY["confirmed"]))
        self.assertLess(under["first_bound"]["use"], 1)
        self.assertGreater(over["first_bound"]["use"], 1)
        self.assertIn("S3 PUT", over["first_bound"]["limit"])

    def test_the_sns_quota_counts_messages_not_calls(self):
        r = model.evaluate(case(rate=700, files=50, mix=ONLY["confirmed"], s3_partitions=1000,
                                account_concurrency=100_000))
        row = next(x for x in r["limits"] if x["limit"].startswith("SNS"))
        self.assertEqual(row["demand"], 700 * 50)
        self.assertEqual(r["first_bound"]["limit"], row["limit"])

    def test_kms_only_without_a_bucket_key(self):
        for mode, want in (("sse-s3", 0), ("sse-kms-bucket-key", 0), ("sse-kms", 2 * 10)):
            self.assertEqual(model.evaluate(case(rate=10, mix=ONLY["confirmed"], kms=mode))["rps"]["kms"], want, mode)


class Redrive(unittest.TestCase):
    def test_the_backlog_drains_at_maximum_concurrency_over_duration(self):
        p = case(files=1, mix=ONLY["confirmed"], redrive_concurrency=10)
        q = model.redrive(p, 36_000)
        # Ten at a time, each the 4 calls and the CPU of a one-file redrive (85.3 ms).
        record_s = (0.77 * 1769 / 256 + 4 * 20) / 1000
        self.assertAlmostEqual(q["records_per_s"], 10 / record_s)  # 117.2
        self.assertAlmostEqual(q["drain_s"], 36_000 * record_s / 10)  # 307 s
        twice = model.redrive(replace(p, redrive_concurrency=20), 36_000)
        self.assertAlmostEqual(twice["drain_s"] * 2, q["drain_s"])

    def test_a_redrive_reads_the_archive_copy_and_meets_its_own_writes(self):
        # Per record: the archive copy's GetObject, and per file a conditional PutObject
        # refused (the live attempt wrote this delivery) and the HeadObject that says so.
        q = model.redrive(case(files=10, mix=ONLY["processed"]), 100)
        self.assertAlmostEqual(q["s3_get_per_s"], q["records_per_s"])
        self.assertAlmostEqual(q["s3_head_per_s"], 10 * q["records_per_s"])
        self.assertAlmostEqual(q["s3_put_per_s"], 10 * q["records_per_s"])


class Cost(unittest.TestCase):
    def test_s3_puts_match_deploy_md_for_one_file(self):
        # docs/deploy.md's Costs: 2 PUTs per 1-file delivery, about $10 per million.
        c = model.evaluate(case(rate=1, mix=ONLY["confirmed"]))["cost_per_million"]
        self.assertAlmostEqual(c["s3"], 10.0)
        self.assertAlmostEqual(c["sns"], 0.5)
        self.assertAlmostEqual(c["api_gateway"], 1.0)
        self.assertAlmostEqual(c["total"], sum(v for k, v in c.items() if k != "total"))

    def test_lambda_is_gb_seconds_at_the_template_memory(self):
        p = case(rate=1, files=1)
        # The archive copy, the file, the publish: 3 calls, and one file's CPU.
        d50 = (0.77 * 1769 / 256 + 3 * 20) / 1000
        c = model.evaluate(p)["cost_per_million"]["lambda"]
        self.assertAlmostEqual(c, 1e6 * (0.20 / 1e6 + 0.25 * d50 * 0.0000133334))


class Cli(unittest.TestCase):
    def run_main(self, *args):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(model.main(list(args)), 0)
        return out.getvalue()

    def test_the_table_has_every_rate_and_size(self):
        text = self.run_main()
        rows = [l for l in text.splitlines() if l.startswith("| ") and l[2].isdigit()]
        self.assertEqual(len(rows), len(model.RATES) * len(model.FILES) + len(model.FILES))

    def test_one_case_as_json(self):
        r = json.loads(self.run_main("--rate", "300", "--files", "10", "--json"))
        self.assertEqual(r["params"]["rate"], 300)
        self.assertIn("redrive", r)

    def test_an_unknown_event_in_the_mix_is_refused(self):
        with self.assertRaises(Exception):
            model.parse_mix("extraction.exported=1")
        self.assertEqual(model.parse_mix("extraction.confirmed=3,other=1"), {"confirmed": 3.0, "other": 1.0})


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print(f"capacity-model: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
