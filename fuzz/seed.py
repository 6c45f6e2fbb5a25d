#!/usr/bin/env python3
"""Writes starting corpora for the fuzz targets from ../tests/data/interop ($CRUMB_VECTORS if
set: tokens of four macaroon libraries) and from crumb's caveat grammar. Run from fuzz/:
python3 seed.py. Without the vectors, only the grammar seeds are written."""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
vectors_dir = os.environ.get("CRUMB_VECTORS") or os.path.join(here, "..", "tests", "data", "interop")
vectors = os.path.join(vectors_dir, "vectors.json")

def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

if os.path.exists(vectors):
    doc = json.load(open(vectors))
else:
    print(f"seed.py: no vectors at {vectors}: grammar seeds only", file=sys.stderr)
    doc = {"vectors": []}
for i, v in enumerate(doc["vectors"]):
    s = v.get("serializations", {})
    if "v1" in s and "raw_hex" in s["v1"]:
        put("decode_v1", f"vec{i}", bytes.fromhex(s["v1"]["raw_hex"]))
    if "v2" in s and "raw_hex" in s["v2"]:
        put("decode_v2", f"vec{i}", bytes.fromhex(s["v2"]["raw_hex"])[1:])
    for k, ser in s.items():
        if "json" in k and isinstance(ser, str) and ser.startswith("{"):
            put("decode_json", f"vec{i}{k}", ser[1:])
    for j, c in enumerate(v.get("first_party_caveats", [])):
        text = c if isinstance(c, str) else c.get("utf8") or ""
        put("caveat_parse", f"vec{i}-{j}", text)
for i, c in enumerate([
    "expires < 2030-01-01T00:00:00Z", "not-before > 2020-01-01T00:00:00Z", "action = read",
    "action in read,write", "resource prefix /docs", "resource = /a/b", "ip in 10.0.0.0/8,::1/128",
    "aud = api", "max-cost <= 5", "balance <= 100", "tenant = acme", "tenant in a,b",
    "time < 2030-01-01T00:00:00Z",
]):
    put("caveat_parse", f"grammar{i}", c)
    put("verify", f"genuine{i}", b"\x01read|/docs/1|\x05\xff" + c.encode())
for i, body in enumerate([
    b'\x00{"token":"x","action":"read"}', b'\x01{"token":"x","cost":1,"request_id":"r"}',
    b'\x02{"token":"x","amounts":[1,2]}', b'\x03{"nonce":"00000000000000000000000000000000","cascade":true}',
    b'\x0010.0.0.1, 203.0.113.9\x00{"token":"x"}',
]):
    put("http_body", f"seed{i}", body)
