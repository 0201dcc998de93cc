"""Seeds the fuzz corpora from the sample requests in events/.

batch:  a configuration byte, then each sample request whole and each of its
        records as a request of its own.
record: a configuration byte, the record's arrival time (8 bytes, little
        endian, as an offset from the fuzz target's base arrival), then the
        record's decoded data.
"""

import base64
import json
import pathlib
import struct
import sys

BASE_ARRIVAL_MS = 1_795_770_902_000
root = pathlib.Path(__file__).resolve().parent
events = sorted((root.parent / "events").glob("*.json"))
corpus = root / "corpus"
(corpus / "batch").mkdir(parents=True, exist_ok=True)
(corpus / "record").mkdir(parents=True, exist_ok=True)
(corpus / "collector").mkdir(parents=True, exist_ok=True)

n_batch = n_record = 0
for path in events:
    raw = path.read_bytes()
    request = json.loads(raw)
    for mode in (0, 1):
        (corpus / "batch" / f"{path.stem}-{mode}").write_bytes(bytes([mode]) + raw)
        n_batch += 1
    for i, rec in enumerate(request["records"]):
        one = dict(request, records=[rec])
        (corpus / "batch" / f"{path.stem}-r{i}").write_bytes(b"\0" + json.dumps(one).encode())
        n_batch += 1
        try:
            data = base64.b64decode(rec.get("data", ""), validate=True)
            arrival = int(float(rec.get("approximateArrivalTimestamp", BASE_ARRIVAL_MS)))
        except (ValueError, TypeError):
            continue
        offset = arrival - BASE_ARRIVAL_MS
        for mode in (0, 1):
            head = bytes([mode]) + struct.pack("<q", offset)
            (corpus / "record" / f"{path.stem}-r{i}-{mode}").write_bytes(head + data)
            n_record += 1

# collector: a selector byte (bit 0 small limits, bit 1 gzip, bit 2 a
# user agent), then a POST /collect body: the sample events as one object,
# as an array and as NDJSON.
n_collector = 0
for path in events:
    request = json.loads(path.read_bytes())
    datas = []
    for rec in request["records"]:
        try:
            datas.append(base64.b64decode(rec.get("data", ""), validate=True).strip())
        except (ValueError, TypeError):
            continue
    if not datas:
        continue
    bodies = {"one": datas[0], "array": b"[" + b",".join(datas) + b"]", "ndjson": b"\n".join(datas)}
    for name, body in bodies.items():
        (corpus / "collector" / f"{path.stem}-{name}").write_bytes(b"\4" + body)
        n_collector += 1

print(f"seeded {n_collector} collector inputs", file=sys.stderr)
print(f"seeded {n_batch} batch and {n_record} record inputs from {len(events)} files", file=sys.stderr)
