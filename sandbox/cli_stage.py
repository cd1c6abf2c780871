"""Writes a CLI session's files into the container (both CLI vendors). Sent as
``python3 -I -c SOURCE DIR SUBDIRS [PATH B64]...``: removes earlier sessions' directories
(``PREFIX-*`` beside DIR, which is ``PREFIX-<token>``; every process they started is gone, an
exec ends by killing them), makes DIR and its comma-separated SUBDIRS (mode 0700), then appends
each base64 chunk to its PATH; a large file comes in several execs."""
import base64
import glob
import os
import shutil
import sys

for old in glob.glob(sys.argv[1].rsplit("-", 1)[0] + "-*"):
    if old != sys.argv[1]:
        shutil.rmtree(old, ignore_errors=True)
for sub in sys.argv[2].split(","):
    os.makedirs(os.path.join(sys.argv[1], sub), mode=0o700, exist_ok=True)
for path, data in zip(sys.argv[3::2], sys.argv[4::2]):
    with open(path, "ab") as f:
        f.write(base64.b64decode(data))
