# Reads rendered YAML as kubectl's YAML 1.1 parser would (PyYAML, as
# kubernetes-validate uses) and compares it with what meshgen meant.
#
# Usage: python3 yaml11.py ITEMS.json
#   ITEMS.json: a JSON array of {"where", "profile", "text", "docs"}: the
#   rendered text, and the documents meshgen's YAML 1.2 parser reads in it.
# Exits 1 and shows the first differences when a document reads differently.
import json
import sys

import yaml


def diff(a, b, path):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                return f"{path}.{k}: missing for YAML 1.1"
            d = diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} is read as {b!r}"


shown, first, failures = 0, None, 0
for item in json.load(open(sys.argv[1])):
    read = [d for d in yaml.safe_load_all(item["text"]) if d is not None]
    if read == item["docs"]:
        continue
    failures += 1
    first = first or item["profile"]
    for mine, theirs in zip(item["docs"], read):
        if mine != theirs and shown < 12:
            shown += 1
            meta = mine.get("metadata", {})
            print(f"{item['where']}: {mine.get('kind')} {meta.get('name')}: {diff(mine, theirs, '')}")
print(f"{failures} files read differently")
if first:
    print("first failing profile:\n" + first)
sys.exit(1 if failures else 0)
