#!/usr/bin/env python3
"""Straightforward Python reference for the ingest parse benchmark.

What a Python developer would write for psc-bridge's parse step: csv.DictReader
over the export, the guide's validation rules (roughly the same as
psc-bridge's: required columns, GUIDs, 25-character product codes, 12-digit
account ids with leading zeroes, ISO 8601 UTC timestamps, the operation type,
required contact fields and maximum lengths for CREATE/UPDATE, 2-letter
country codes, 5-digit ZIP codes), then the same DynamoDB item psc-bridge's
store::contact_item builds, as a dict in DynamoDB's attribute-value shape.

    python3 benches/python/reference_parse.py EXPORT.csv [--runs 3]

Standard library only. Prints a summary and one `BENCH {json}` line. The
functions are reused by reference_boto3.py.
"""

import argparse
import csv
import json
import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PRODUCT_CODE = re.compile(r"^[A-Za-z0-9]{25}$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
COUNTRY = re.compile(r"^[A-Za-z]{2}$")
ZIP = re.compile(r"^[0-9]{5}$")
OPERATIONS = {"CREATE", "UPDATE", "DELETE"}

REQUIRED_COLUMNS = [
    "Product Id", "Product Code", "Customer Guid", "Subscription Guid", "Subscription Start Date",
    "Organization", "Given Name", "Surname", "Telephone Number", "Email", "Operation Time", "Operation Type",
]
# (column, item attribute, max length, required for CREATE/UPDATE)
CONTACT_FIELDS = [
    ("Organization", "organization", 255, True),
    ("Given Name", "givenName", 100, True),
    ("Surname", "surname", 100, True),
    ("Telephone Number", "telephoneNumber", 25, True),
    ("Email", "email", 254, True),
    ("Title", "title", 255, False),
]


class HeaderError(Exception):
    pass


def account_column(fieldnames):
    """The account id column (either spelling); checks the required ones."""
    names = [f.strip().lstrip("\ufeff") for f in fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    account = [c for c in ("AWS Customer Id", "AWS Account Id") if c in names]
    if not account:
        missing.append("AWS Customer Id (or AWS Account Id)")
    if missing:
        raise HeaderError("missing column(s): " + ", ".join(missing))
    if len(account) > 1:
        raise HeaderError("both account id columns")
    return account[0]


def parse_time(value):
    """ISO 8601 in UTC -> canonical 'YYYY-MM-DDTHH:MM:SS.sssZ', or None."""
    if len(value) < 20 or value[10] != "T":
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    if t.utcoffset() != timedelta(0):
        return None
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def validate(row, account_col):
    """(record dict, None) for a valid row, (None, [problems]) otherwise."""
    problems = []
    if None in row or None in row.values():
        problems.append("wrong number of fields")
        row = {k: (v or "") for k, v in row.items() if k is not None}
    get = lambda c: (row.get(c) or "").strip()
    rec = {}
    for col, key in (("Product Id", "productId"), ("Customer Guid", "customerGuid"),
                     ("Subscription Guid", "subscriptionGuid")):
        v = get(col)
        if GUID.match(v):
            rec[key] = v.lower()
        else:
            problems.append(col + ": must be a GUID")
    v = get("Product Code")
    if PRODUCT_CODE.match(v):
        rec["productCode"] = v.lower()
    else:
        problems.append("Product Code: must be 25 alphanumeric characters")
    v = get(account_col)
    if ACCOUNT_ID.match(v):
        rec["awsAccountId"] = v
    else:
        problems.append("AWS Customer Id: must be 12 digits")
    for col, key in (("Subscription Start Date", "subscriptionStartDate"), ("Operation Time", "operationTime")):
        t = parse_time(get(col))
        if t is None:
            problems.append(col + ": must be an ISO 8601 date-time in UTC")
        else:
            rec[key] = t
    op = get("Operation Type")
    if op not in OPERATIONS:
        problems.append("Operation Type: must be CREATE, UPDATE or DELETE")
    rec["operationType"] = op
    if op in ("CREATE", "UPDATE"):
        for col, key, max_len, required in CONTACT_FIELDS:
            v = get(col)
            if not v:
                if required:
                    problems.append(col + ": is required for CREATE and UPDATE")
                continue
            if len(v) > max_len:
                problems.append("%s: is longer than %d characters" % (col, max_len))
            rec[key] = v
        v = get("Country Code")
        if v:
            if COUNTRY.match(v):
                rec["countryCode"] = v.upper()
            else:
                problems.append("Country Code: must be a 2-letter ISO 3166 country code")
        v = get("ZIP Code")
        if v:
            if ZIP.match(v):
                rec["zipCode"] = v
            else:
                problems.append("ZIP Code: must be a 5-digit string")
    if problems:
        return None, problems
    return rec, None


def build_item(rec, request_id):
    """The DynamoDB item psc-bridge's store::contact_item builds, same attributes."""
    guid = rec["customerGuid"]
    if rec["operationType"] == "DELETE":
        return {
            "pk": {"S": "CONTACT#" + guid},
            "sk": {"S": "CONTACT"},
            "kind": {"S": "DELETED"},
            "customerGuid": {"S": guid},
            "operationTime": {"S": rec["operationTime"]},
            "exportRequestId": {"S": request_id},
        }
    item = {
        "pk": {"S": "CONTACT#" + guid},
        "sk": {"S": "CONTACT"},
        "gsi1pk": {"S": "ACCOUNT#" + rec["awsAccountId"]},
        "gsi1sk": {"S": "PRODUCT#%s#SUB#%s#CONTACT#%s" % (rec["productCode"], rec["subscriptionGuid"], guid)},
        "gsi2pk": {"S": "EMAIL#" + rec["email"].strip().lower()},
        "gsi2sk": {"S": guid},
        "kind": {"S": "CONTACT"},
    }
    for key in ("customerGuid", "productId", "productCode", "subscriptionGuid", "subscriptionStartDate",
                "awsAccountId", "organization", "givenName", "surname", "telephoneNumber", "email",
                "title", "countryCode", "zipCode", "operationTime", "operationType"):
        if key in rec:
            item[key] = {"S": rec[key]}
    item["exportRequestId"] = {"S": request_id}
    return item


def process(lines, request_id="bench-request-id", on_item=None, on_reject=None):
    """Reads an export from an iterable of text lines. Returns (rows, valid, rejected)."""
    reader = csv.DictReader(lines)
    account_col = account_column(reader.fieldnames)
    rows = valid = rejected = 0
    for row in reader:
        rows += 1
        rec, problems = validate(row, account_col)
        if rec is None:
            rejected += 1
            if on_reject is not None:
                on_reject(reader.line_num, problems, row)
            continue
        valid += 1
        item = build_item(rec, request_id)
        if on_item is not None:
            on_item(rec, item)
    return rows, valid, rejected


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--runs", type=int, default=3, help="best of N runs (default 3)")
    args = ap.parse_args()
    size = os.path.getsize(args.file)
    with open(args.file, "rb") as f:  # into the page cache
        while f.read(1 << 20):
            pass
    best = best_cpu = None
    for _ in range(max(1, args.runs)):
        start, cpu = time.perf_counter(), time.process_time()
        with open(args.file, newline="", encoding="utf-8-sig") as f:
            rows, valid, rejected = process(f)
        took, took_cpu = time.perf_counter() - start, time.process_time() - cpu
        best = took if best is None else min(best, took)
        best_cpu = took_cpu if best_cpu is None else min(best_cpu, took_cpu)
    print("python %s, csv.DictReader + validate + items: %d rows (%d valid, %d rejected), %.1f MB, "
          "best of %d: %.2fs = %.0f rows/s, %.1f MB/s (CPU %.2fs)"
          % (sys.version.split()[0], rows, valid, rejected, size / 1e6, args.runs, best, rows / best,
             size / 1e6 / best, best_cpu))
    print("BENCH " + json.dumps({
        "bench": "parse-python", "file": args.file, "python": sys.version.split()[0], "rows": rows,
        "valid": valid, "rejected": rejected, "bytes": size, "runs": args.runs, "seconds": round(best, 4), "cpuSeconds": round(best_cpu, 4),
        "rowsPerSec": round(rows / best), "MBps": round(size / 1e6 / best, 2),
    }))


if __name__ == "__main__":
    main()
