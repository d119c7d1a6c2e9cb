"""The one price table of the benchmarks (scripts/bench/report.py and
docs/benchmarks-ingest.md): AWS list prices in us-east-1, as published on
2026-12-06. Change them here, with the date, and nowhere else."""

DATE = "2026-12-06"
REGION = "us-east-1"
# DynamoDB on-demand: one write request unit (a write of up to 1 KB).
USD_PER_WRITE_UNIT = 0.625 / 1e6
# Lambda on arm64: one GB-second of duration (the first pricing tier).
USD_PER_GB_SECOND = 0.0000133334
# Lambda gives a function CPU in proportion to its memory: one full vCPU at
# 1,769 MB (Lambda's documentation).
MB_PER_VCPU = 1769
# The write request units a new on-demand table (and each of its global
# secondary indexes) sustains per second before it has scaled up.
NEW_TABLE_WRITE_UNITS_PER_SECOND = 4000
