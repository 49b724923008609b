#!/usr/bin/env python3
"""Compares our detections (NDJSON from `threatdesk ingest --offline`) with a peer's
(corpus/events/peer-zircolite-half.json), rule by rule and event by event.

usage: compare_peer.py OURS.ndjson PEER.json [--all-rules]
Events are keyed (Computer, Channel, EventRecordID). Only the peer's rules are compared unless
--all-rules (then rules only we fired are listed too)."""
import json
import sys
from collections import defaultdict


def key_of(event):
    s = event.get("Event", {}).get("System", {})
    rid = s.get("EventRecordID")
    if isinstance(rid, dict):
        rid = rid.get("#text")
    return (s.get("Computer"), s.get("Channel"), int(rid) if rid is not None else None)


def main():
    ours_path, peer_path = sys.argv[1], sys.argv[2]
    all_rules = "--all-rules" in sys.argv
    ours = defaultdict(set)
    titles = {}
    with open(ours_path) as f:
        for line in f:
            d = json.loads(line)
            ours[d["rule_id"]].add(key_of(d["event"]))
            titles[d["rule_id"]] = d["rule_title"]
    peer = json.load(open(peer_path))
    same = 0
    rows = []
    for r in peer["rules"]:
        p = {(c, ch, int(rid)) for c, ch, rid in r["events"]}
        o = ours.get(r["id"], set())
        only_p, only_o = p - o, o - p
        status = "same" if not only_p and not only_o else "differs"
        if status == "same":
            same += 1
        rows.append((status, r["id"], r["title"], r["level"], len(p), len(o), len(only_p),
                     len(only_o), sorted(only_p)[:5], sorted(only_o)[:5]))
    print(f"peer rules: {len(peer['rules'])}, identical: {same}, differing: {len(rows) - same}")
    for row in rows:
        if row[0] != "same":
            print(f"DIFF {row[1]} {row[2]!r} level={row[3]} peer={row[4]} ours={row[5]} "
                  f"peer_only={row[6]} ours_only={row[7]}")
            if row[8]:
                print(f"   peer-only e.g. {row[8]}")
            if row[9]:
                print(f"   ours-only e.g. {row[9]}")
    if all_rules:
        peer_ids = {r["id"] for r in peer["rules"]}
        extra = sorted((rid for rid in ours if rid not in peer_ids), key=lambda x: titles[x])
        print(f"\nrules we fired that are not in the peer's half: {len(extra)}")
        for rid in extra:
            print(f"  {rid} {titles[rid]!r} {len(ours[rid])}")


if __name__ == "__main__":
    main()
