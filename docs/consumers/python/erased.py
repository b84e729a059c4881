"""Acting on `receiver.erased`: an operator ran `webhook-cli erase`, so erase your copies too.

The notice names an extraction, and optionally one of its batches and one of its files
(ids as strings; null when not selected). This example keeps its copies of file entries as
S3 objects `copies/{extractionId}/{batchId}/{fileId}.json` in COPIES_BUCKET (each id
percent-encoded); put your own store's deletion here. Erasing is idempotent: a second
notice for the same selection deletes nothing more.
"""
import json
import os
from urllib.parse import quote

import boto3

s3 = boto3.client("s3")
COPIES_BUCKET = os.environ.get("COPIES_BUCKET") or os.environ.get("DEDUP_BUCKET", "")


def erase_copies(notice: dict) -> None:
    """Deletes every copy the notice's selection names (its `detail`)."""
    ids = [quote(notice[n], safe="") for n in ("extractionId", "batchId", "fileId") if notice.get(n) is not None]
    # One file is one object; a batch or an extraction is everything under its folder.
    prefix = "copies/" + "/".join(ids) + (".json" if len(ids) == 3 else "/")
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=COPIES_BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=COPIES_BUCKET, Key=obj["Key"])
            deleted += 1
    # Log ids and counts only: the copies were personal data.
    print(json.dumps({"erased": {k: notice.get(k) for k in ("extractionId", "batchId", "fileId")},
                      "deleted": deleted, "erasedAt": notice["erasedAt"]}), flush=True)
