"""One row of the binary-size table of functions/eligibility-api/benches/run.sh:
the bootstrap's size, in bytes and MB, whether it is stripped, and its size
zipped as Lambda deploys it.

    python3 scripts/bench/bootstrap_size.py FUNCTION BOOTSTRAP SHOWN_PATH STRIPPED
"""
import io
import os
import sys
import zipfile

function, path, shown, stripped = sys.argv[1:5]
size = os.path.getsize(path)
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(path, "bootstrap")
print("| %s | %s | %d | %.2f | %s | %.2f MB |" % (function, shown, size, size / 1e6, stripped, len(buf.getvalue()) / 1e6))
