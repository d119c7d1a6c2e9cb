#!/usr/bin/env python3
"""Straightforward Python reference for the end-to-end ingest benchmark.

The same ingest as psc-bridge's, written the obvious way with boto3: read the
metadata and stream the CSV from S3 (csv.DictReader over the body), validate
each row and build the same item (reference_parse.py), and write it with one
conditional PutItem per row, in order,

    ConditionExpression = "attribute_not_exists(pk) OR operationTime < :t"

counting a failed condition as stale; the export record is written before and
after, rejected rows go to a rejects report beside the export. Every put asks
for ReturnConsumedCapacity=INDEXES; the write units DynamoDB answered are
summed into `writeUnits` (table and indexes) and `tableWriteUnits` (the
table's own); a put turned away by its condition answers none.

The table and objects come from `ingest-e2e prepare --file EXPORT.csv` (a
fresh table from template.yaml, the CSV and metadata in the S3 emulator),
so both implementations read the same bytes from the same servers:

    STAGED=$(target/release/ingest-e2e prepare --file EXPORT.csv)
    .local/venv/bin/python benches/python/reference_boto3.py --staged "$STAGED"

Endpoints from PSC_TEST_DYNAMODB_ENDPOINT and PSC_TEST_S3_ENDPOINT (set by
devkit's `with-emulators`). Prints a summary and one `BENCH {json}` line with
rows/s, this process's peak RSS and the CPU seconds it, DynamoDB Local's JVM
and moto used.
"""

import argparse
import csv
import io
import json
import os
import resource
import sys
import time
from datetime import datetime, timezone

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_parse import process  # noqa: E402

INITIAL_FROM_DATE = "2010-01-01T00:00:00.000Z"


def now_iso():
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def find_process(word, flag, endpoint):
    """pid of the process whose command line holds `word` and `flag <port>`."""
    port = endpoint.rstrip("/").rsplit(":", 1)[-1]
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if any(word.encode() in a for a in args) and any(
            args[i] == flag.encode() and args[i + 1] == port.encode() for i in range(len(args) - 1)
        ):
            return int(pid)
    return None


def cpu_seconds(pid):
    if pid is None:
        return None
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--staged", required=True, help="the JSON `ingest-e2e prepare` prints")
    args = ap.parse_args()
    staged = json.loads(args.staged)
    table, bucket, request_id = staged["table"], staged["bucket"], staged["requestId"]
    csv_key, meta_key = staged["csvKey"], staged["metaKey"]
    ddb_endpoint = os.environ["PSC_TEST_DYNAMODB_ENDPOINT"]
    s3_endpoint = os.environ["PSC_TEST_S3_ENDPOINT"]
    for var in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(var, None)
    common = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    ddb = boto3.client("dynamodb", endpoint_url=ddb_endpoint,
                       config=Config(retries={"max_attempts": 8, "mode": "standard"}), **common)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint,
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 8, "mode": "standard"}),
                      **common)
    ddb.describe_table(TableName=table)  # connection set up, untimed (as the Rust side's warm-up)

    java = find_process("DynamoDBLocal.jar", "-port", ddb_endpoint)
    moto = find_process("moto_server", "-p", s3_endpoint)
    java0, moto0, self0 = cpu_seconds(java), cpu_seconds(moto), self_cpu()
    start = time.perf_counter()

    meta = json.loads(s3.get_object(Bucket=bucket, Key=meta_key)["Body"].read())
    assert meta["dataSetRequestId"] == request_id
    export_key = {"pk": {"S": "EXPORT#" + request_id}, "sk": {"S": "EXPORT"}}
    ddb.update_item(
        TableName=table, Key=export_key,
        UpdateExpression="SET requestId = :id, kind = :kind, #status = :status, receivedAt = :now",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":id": {"S": request_id}, ":kind": {"S": "EXPORT"},
                                   ":status": {"S": "APPLYING"}, ":now": {"S": now_iso()}},
    )
    watermark = INITIAL_FROM_DATE  # a fresh table: no sync state yet

    counts = {"created": 0, "updated": 0, "deleted": 0, "skippedStale": 0, "rejected": 0}
    consumed = {"writeUnits": 0.0, "tableWriteUnits": 0.0}
    rejects = io.StringIO()
    rejects_writer = csv.writer(rejects)
    rejects_writer.writerow(["line", "reason", "customerGuid", "operationType"])

    def on_item(rec, item):
        if rec["operationTime"] <= watermark:
            counts["skippedStale"] += 1
            return
        try:
            out = ddb.put_item(
                TableName=table, Item=item,
                ConditionExpression="attribute_not_exists(pk) OR operationTime < :t",
                ExpressionAttributeValues={":t": {"S": rec["operationTime"]}},
                ReturnConsumedCapacity="INDEXES",
            )
        except ddb.exceptions.ConditionalCheckFailedException:
            counts["skippedStale"] += 1
            return
        cc = out.get("ConsumedCapacity", {})
        consumed["writeUnits"] += cc.get("CapacityUnits", 0.0)
        consumed["tableWriteUnits"] += cc.get("Table", {}).get("CapacityUnits", 0.0)
        counts[{"CREATE": "created", "UPDATE": "updated", "DELETE": "deleted"}[rec["operationType"]]] += 1

    def on_reject(line, problems, row):
        counts["rejected"] += 1
        rejects_writer.writerow([line, "; ".join(problems), row.get("Customer Guid") or "",
                                 row.get("Operation Type") or ""])

    body = s3.get_object(Bucket=bucket, Key=csv_key)["Body"]
    lines = io.TextIOWrapper(body, encoding="utf-8-sig", newline="")
    rows, valid, rejected = process(lines, request_id, on_item, on_reject)

    if rejected:
        s3.put_object(Bucket=bucket, Key=csv_key + ".rejects.csv", Body=rejects.getvalue().encode(),
                      ContentType="text/csv")
    status = "PARTIAL" if rejected else "APPLIED"
    ddb.update_item(
        TableName=table, Key=export_key,
        UpdateExpression="SET #status = :status, finishedAt = :fin, created = :c, updated = :u, deleted = :d, "
                         "skippedStale = :st, rejected = :r",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": {"S": status}, ":fin": {"S": now_iso()},
                                   ":c": {"N": str(counts["created"])}, ":u": {"N": str(counts["updated"])},
                                   ":d": {"N": str(counts["deleted"])}, ":st": {"N": str(counts["skippedStale"])},
                                   ":r": {"N": str(counts["rejected"])}},
    )

    secs = time.perf_counter() - start
    java1, moto1, self1 = cpu_seconds(java), cpu_seconds(moto), self_cpu()
    delta = lambda a, b: None if a is None or b is None else round(b - a, 2)
    java_cpu, moto_cpu = delta(java0, java1), delta(moto0, moto1)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("reference_boto3: %d rows in %.1fs = %.0f rows/s, status %s, peak RSS %.1f MB; CPU: python %.2f cores, "
          "DynamoDB Local %s, moto %s"
          % (rows, secs, rows / secs, status, peak_kb / 1024, (self1 - self0) / secs,
             "n/a" if java_cpu is None else "%.2f cores" % (java_cpu / secs),
             "n/a" if moto_cpu is None else "%.2f cores" % (moto_cpu / secs)), file=sys.stderr)
    print("BENCH " + json.dumps({
        "bench": "e2e-python", "python": sys.version.split()[0], "boto3": boto3.__version__, "rows": rows,
        "seconds": round(secs, 3), "rowsPerSec": round(rows / secs, 1), "status": status, "counts": counts,
        "peakRssKb": peak_kb, "selfCpuSec": round(self1 - self0, 2), "javaCpuSec": java_cpu,
        "motoCpuSec": moto_cpu, "writeUnits": round(consumed["writeUnits"], 1),
        "tableWriteUnits": round(consumed["tableWriteUnits"], 1), "javaCores": None if java_cpu is None else round(java_cpu / secs, 2),
        "selfCores": round((self1 - self0) / secs, 2),
    }))


if __name__ == "__main__":
    main()
