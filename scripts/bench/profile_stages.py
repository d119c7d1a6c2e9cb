"""Where the ingest's client CPU goes, by stage: reads `perf script` output
of a profile with call graphs and counts each sample under the innermost
frame on its stack that names a stage (kernel frames included), in the
order of STAGES below for a frame that names two.

    perf record -F 999 --call-graph dwarf -o perf.data -- target/release/ingest-e2e run --file F
    perf script -i perf.data | python3 scripts/bench/profile_stages.py

(docs/benchmarks-ingest.md: a build with symbols, the command there.)
"""
import collections
import sys

# (stage, substrings of a frame's symbol that put the sample there)
STAGES = [
    ("writev and the kernel's TCP send (on loopback: also the delivery to the server)", ["writev"]),
    ("tokio's I/O driver: epoll_wait, the sleep and the wakeup", ["epoll_wait"]),
    ("reading the answer from the socket (recvfrom)", ["recvfrom", "sys_recv"]),
    ("SigV4 (sigv4::Signer, aws-sigv4's HMAC)", ["sigv4", "hmac", "sha2::"]),
    ("JSON: the request body and the answer (serde_json)", ["serde_json"]),
    ("the connections: checkout, return, connect (conn::Conns)", ["dynamodb::conn::"]),
    ("hyper: the request's encoding, the answer's parsing, the dispatch", ["hyper::", "httparse", "hyper_util"]),
    ("CSV parsing (csv, csv-core)", ["csv_core", "csv::"]),
    ("the contact write's own code (put.rs: request, retries)", ["dynamodb::put::"]),
    ("the ingest's pipeline (segments, the tally, the channel)", ["ingest_export", "psc_bridge", "exportgen"]),
    ("tokio's scheduler and timers", ["tokio::"]),
    ("the allocator: malloc and free (mimalloc, as in the function; the kernel's kmalloc)", ["malloc", "free", "realloc", "_int_"]),
]


def stage_of(frames):
    for frame in frames:  # innermost first
        for stage, needles in STAGES:
            if any(n in frame for n in needles):
                return stage
    return "other (the kernel's scheduler, libc, the runtime's start)"


def samples(lines):
    frames = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif line.startswith((" ", "\t")):
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
        # else: the sample's header line
    if frames:
        yield frames


counts = collections.Counter(stage_of(f) for f in samples(sys.stdin))
total = sum(counts.values()) or 1
print("| stage | share |\n|---|---:|")
for stage, n in counts.most_common():
    print("| %s | %.1f %% |" % (stage, 100.0 * n / total))
print("\n%d samples" % total, file=sys.stderr)
