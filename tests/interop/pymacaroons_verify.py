#!/usr/bin/env python3
"""Verify tokens crumb wrote with pymacaroons (the reference Python library).

Reads JSON cases on stdin: [{"name", "token", "key", "exact": [...], "discharges": [...],
"expect": bool}], prints one line per case and exits 1 if any verdict differs from "expect".
"""
import json
import sys

from pymacaroons import Macaroon, Verifier

failed = 0
for case in json.load(sys.stdin):
    try:
        m = Macaroon.deserialize(case["token"])
        discharges = [Macaroon.deserialize(d) for d in case["discharges"]]
        v = Verifier()
        for predicate in case["exact"]:
            v.satisfy_exact(predicate)
        valid = v.verify(m, case["key"], discharges)
    except Exception as e:  # pymacaroons raises on any failure
        valid = False
        why = f"{type(e).__name__}: {e}"
    else:
        why = ""
    ok = valid == case["expect"]
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {case['name']}: valid={valid} {why}")
sys.exit(1 if failed else 0)
