#!/usr/bin/env python3
"""Compares `helm template` output (a file, or - for stdin) with a meshgen render
directory: object counts by kind, the (kind, namespace, name) sets, and every object's
content, with the one label helm sets differently (managed-by: Helm) normalised.

Usage: compare.py HELM_OUTPUT MESHGEN_DIR
"""
import collections, json, os, sys, yaml

def load(paths):
    docs = []
    for p in paths:
        with (sys.stdin if p == "-" else open(p)) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    return docs

def key(d):
    return (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])

def normalise(d):
    for meta in (d["metadata"], d.get("spec", {}).get("template", {}).get("metadata", {})):
        labels = meta.get("labels") or {}
        if labels.get("app.kubernetes.io/managed-by") == "Helm":
            labels["app.kubernetes.io/managed-by"] = "meshgen"
    return d

helm_out, mesh_dir = sys.argv[1], sys.argv[2]
helm = {key(d): normalise(d) for d in load([helm_out])}
mesh_files = [os.path.join(r, f) for r, _, fs in os.walk(mesh_dir) for f in fs if f.endswith(".yaml")]
mesh = {key(d): d for d in load(mesh_files)}

kh = collections.Counter(k[0] for k in helm)
km = collections.Counter(k[0] for k in mesh)
print(f"{'kind':24} {'helm':>6} {'meshgen':>8}")
for kind in sorted(set(kh) | set(km)):
    print(f"{kind:24} {kh[kind]:6} {km[kind]:8}{'' if kh[kind] == km[kind] else '  <-- differs'}")
print(f"{'total':24} {sum(kh.values()):6} {sum(km.values()):8}")
only_h, only_m = sorted(set(helm) - set(mesh)), sorted(set(mesh) - set(helm))
print("(kind, namespace, name) sets:", "identical" if not (only_h or only_m) else
      f"{len(only_h)} only in helm {only_h[:5]}, {len(only_m)} only in meshgen {only_m[:5]}")

differ = [k for k in sorted(set(helm) & set(mesh)) if helm[k] != mesh[k]]
print(f"objects with different content: {len(differ)} of {len(set(helm) & set(mesh))}")
for k in differ[:5]:
    print(" ", k, "\n    helm:   ", json.dumps(helm[k])[:400], "\n    meshgen:", json.dumps(mesh[k])[:400])
sys.exit(1 if only_h or only_m or differ else 0)
