// Validates Istio custom resources against @kubernetes-models/istio (types, enums,
// required fields; it does not reject unknown fields: schemas.rs does that).
//
// Usage: node validate-istio.mjs DOCS.json
//   DOCS.json: a JSON array of {"file": "...", "doc": {...}}.
// Modules are found through NODE_PATH (scripts/test sets it to .tools/node_modules);
// ES modules ignore NODE_PATH, so the model files are imported by absolute path.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const roots = (process.env.NODE_PATH || "").split(":").filter(Boolean);
const items = JSON.parse(readFileSync(process.argv[2], "utf8"));
const failures = [];
let checked = 0;

for (const { file, doc } of items) {
  const [group, version] = doc.apiVersion.split("/");
  const where = `${file}: ${doc.kind} ${doc.metadata?.namespace ?? ""}/${doc.metadata?.name}`;
  const candidates = roots.map((r) =>
    join(r, "@kubernetes-models", "istio", group, version, `${doc.kind}.js`),
  );
  const path = candidates.find(existsSync);
  if (!path) {
    failures.push(`${where}: no model for ${doc.apiVersion} ${doc.kind} (looked in ${candidates.join(", ") || "an empty NODE_PATH"})`);
    continue;
  }
  const mod = await import(pathToFileURL(path).href);
  try {
    new mod[doc.kind](doc).validate();
    checked += 1;
  } catch (e) {
    failures.push(`${where}: ${e.message}`);
  }
}

for (const f of failures) console.error(f);
console.log(`validated ${checked} Istio resources, ${failures.length} failures`);
process.exit(failures.length ? 1 : 0);
