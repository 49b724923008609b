#!/usr/bin/env python3
"""Writes N made-up indicators, one a line, in the mix intel_bench.cpp uses (40% IPv4, 4% CIDR,
2% IPv6, 25% domains, 10% URLs, 17% hashes, 2% e-mail addresses), with a fixed seed; for the
store import benchmark (docs/benchmarks.md, "Intel feeds in the store").

Usage: gen_indicators.py N OUT
"""
import random
import sys

n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
tlds = ["com", "net", "org", "info", "xyz", "top", "ru", "cn", "io", "biz"]


def label(lo=3, hi=12):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(lo, hi)))


def domain():
    return label() + "." + (label(2, 8) + "." if rng.random() < 0.3 else "") + rng.choice(tlds)


def ipv4():
    return "%d.%d.%d.%d" % (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))


with open(out, "w") as f:
    for _ in range(n):
        r = rng.randint(0, 99)
        if r < 40:
            v = ipv4()
        elif r < 44:
            v = "%s/%d" % (ipv4().rsplit(".", 1)[0] + ".0", rng.choice([16, 20, 24]))
        elif r < 46:
            v = "2001:db8:%x:%x::%x" % (rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16))
        elif r < 71:
            v = domain()
        elif r < 81:
            v = rng.choice(["http://", "https://"]) + domain() + "/" + label(4, 16) + rng.choice([".php", ".exe", "/", ""])
        elif r < 98:
            v = ("%064x" % rng.getrandbits(256))[: rng.choice([64, 64, 32, 40])]  # SHA-256, MD5, SHA-1
        else:
            v = label(4, 10) + "@" + domain()
        f.write(v + "\n")
