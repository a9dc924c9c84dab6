// Validates custom resources (Istio, Argo CD, Prometheus Operator) against their CRD schemas
// and rejects unknown fields. usage: node validate-crds.mjs NODE_DIR CRDS_JSON
//
// NODE_DIR/node_modules holds @kubernetes-models/istio, @kubernetes-models/argo-cd and
// @kubernetes-models/prometheus-operator: JSON schema validators generated from the upstream
// CRDs (Istio 1.29's crd-all.gen.yaml, Argo CD v3's, the Prometheus Operator's). Each document goes through its kind's validator (types, enums, required fields,
// patterns, oneOf). Those validators, like the API server's pruning, let unknown fields
// through, so each document is passed in wrapped in proxies that record which keys the
// validator looks up: in an object whose properties the schema describes, the validator probes
// every property it knows (present or not), so a key it never probed is one the CRD does not
// define (a typo, a field of another version) and fails the run. Objects the schema leaves
// open (maps, which the validator enumerates, and preserve-unknown-fields objects, which it
// never looks into) are not judged. Canaries with a misspelt field must be caught too, or the
// run fails: a check that stopped working cannot pass silently.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const [nodeDir, crdsFile] = process.argv.slice(2);
const modules = join(nodeDir, "node_modules");
const PACKAGES = {
  "security.istio.io": "@kubernetes-models/istio",
  "networking.istio.io": "@kubernetes-models/istio",
  "argoproj.io": "@kubernetes-models/argo-cd",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};
const { runValidateFunc } = await import(
  pathToFileURL(join(modules, "@kubernetes-models/validate/dist/index.js")));

// The generated validator of a kind: the model file imports it from ../../_schemas/.
async function validatorOf(apiVersion, kind) {
  const pkg = PACKAGES[apiVersion.split("/")[0]];
  if (!pkg) throw new Error(`no schema package for ${apiVersion}`);
  const modelFile = join(modules, pkg, apiVersion, `${kind}.js`);
  let text;
  try {
    text = readFileSync(modelFile, "utf8");
  } catch {
    throw new Error(`no model for ${apiVersion} ${kind} in ${pkg}`);
  }
  const match = text.match(/import\s*\{\s*validate\s*\}\s*from\s*"([^"]+)"/);
  if (!match) throw new Error(`${modelFile}: no validator import`);
  return (await import(pathToFileURL(join(dirname(modelFile), match[1])))).validate;
}

// A copy of `value` whose objects record the keys looked up and whether they were enumerated.
function tracked(value, path, objects) {
  if (Array.isArray(value)) return value.map((item, i) => tracked(item, `${path}[${i}]`, objects));
  if (value === null || typeof value !== "object") return value;
  const target = {};
  for (const [key, item] of Object.entries(value)) target[key] = tracked(item, `${path}.${key}`, objects);
  const record = { path, keys: Object.keys(target), probed: new Set(), enumerated: false };
  objects.push(record);
  return new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key === "string") record.probed.add(key);
      return Reflect.get(t, key, receiver);
    },
    has(t, key) {
      if (typeof key === "string") record.probed.add(key);
      return Reflect.has(t, key);
    },
    ownKeys(t) {
      record.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

// Problems of one document: schema errors, then unknown fields.
async function check(doc) {
  const validate = await validatorOf(doc.apiVersion, doc.kind);
  const objects = [];
  const problems = [];
  try {
    runValidateFunc(validate, tracked(doc, "", objects));
  } catch (error) {
    problems.push(error.message);
  }
  let judged = 0;
  for (const { path, keys, probed, enumerated } of objects) {
    if (enumerated || probed.size === 0) continue;
    judged++;
    for (const key of keys) {
      if (!probed.has(key)) problems.push(`${path}.${key}: not a field of ${doc.kind} (${doc.apiVersion})`);
    }
  }
  return { problems, judged, open: objects.length - judged };
}

const canaries = [
  ["AuthorizationPolicy source.principal", { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy",
    metadata: { name: "canary" }, spec: { rules: [{ from: [{ source: { principal: ["x"] } }] }] } }],
  ["VirtualService http[].timeOut", { apiVersion: "networking.istio.io/v1", kind: "VirtualService",
    metadata: { name: "canary" }, spec: { hosts: ["x"], http: [{ route: [{ destination: { host: "x" } }], timeOut: "1s" }] } }],
  ["PeerAuthentication portLevelMtls.*.mod", { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication",
    metadata: { name: "canary" }, spec: { portLevelMtls: { 8080: { mod: "PERMISSIVE" } } } }],
  ["Application source.helm.valueFile", { apiVersion: "argoproj.io/v1alpha1", kind: "Application",
    metadata: { name: "canary" }, spec: { project: "p", destination: {}, source: { repoURL: "x", helm: { valueFile: [] } } } }],
  ["ServiceMonitor endpoints[].honorLabel", { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor",
    metadata: { name: "canary" }, spec: { selector: {}, endpoints: [{ port: "x", honorLabel: true }] } }],
];

let failures = 0;
for (const [name, doc] of canaries) {
  const { problems } = await check(doc);
  if (problems.length === 0) {
    console.error(`FAIL canary ${name}: not rejected; the unknown-field check does not work`);
    failures++;
  }
}

const counts = {};
let judgedTotal = 0;
let openTotal = 0;
const entries = JSON.parse(readFileSync(crdsFile, "utf8"));
for (const { source, doc } of entries) {
  try {
    const { problems, judged, open } = await check(doc);
    judgedTotal += judged;
    openTotal += open;
    for (const problem of problems) {
      console.error(`FAIL ${source}: ${problem}`);
      failures++;
    }
    const kind = `${doc.apiVersion} ${doc.kind}`;
    counts[kind] = (counts[kind] ?? 0) + 1;
  } catch (error) {
    console.error(`FAIL ${source}: ${error.message}`);
    failures++;
  }
}

for (const [kind, count] of Object.entries(counts).sort()) console.log(`  ${count} × ${kind}`);
if (failures) {
  console.error(`custom resources: ${failures} problem(s)`);
  process.exit(1);
}
console.log(`custom resources: ${entries.length} valid against their CRD schemas; ` +
  `${judgedTotal} objects checked for unknown fields (${openTotal} maps or free-form objects not judged); ` +
  `${canaries.length} canaries rejected`);
