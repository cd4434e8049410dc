// tests/conformance/spec.js — reads the OpenAPI spec (YAML) at run time and
// writes, as JSON, what the Lua driver needs to judge runctl: every operation
// (method, path template, parameters, declared responses) and the component
// schemas, with prose and examples left out. The output goes to a temporary
// file, never into the repository.
//
// usage: node spec.js SPEC.yaml OUT.json
'use strict';

const fs = require('fs');
const yaml = require('js-yaml');

const [specPath, outPath] = process.argv.slice(2);
if (!specPath || !outPath) {
  process.stderr.write('usage: node spec.js SPEC.yaml OUT.json\n');
  process.exit(2);
}

const doc = yaml.load(fs.readFileSync(specPath, 'utf8'));

// Only the keywords the driver's shape check reads; the rest is prose,
// examples and generator hints that would only make the JSON bigger.
const KEEP = new Set([
  'type', 'nullable', 'properties', 'required', 'items', 'anyOf', 'oneOf', 'allOf',
  'enum', 'const', '$ref', 'additionalProperties', 'minimum', 'maximum', 'default',
  'format', 'minItems', 'maxItems',
]);

function prune(node) {
  if (Array.isArray(node)) return node.map(prune);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (!KEEP.has(k)) continue;
    // properties maps names to schemas: keep every name, prune each schema.
    if (k === 'properties') {
      out[k] = {};
      for (const [name, s] of Object.entries(v)) out[k][name] = prune(s);
    } else {
      out[k] = prune(v);
    }
  }
  return out;
}

// Follows a local "#/components/..." reference (parameters, responses).
function deref(node) {
  let seen = 0;
  while (node && typeof node.$ref === 'string' && seen++ < 32) {
    const parts = node.$ref.replace(/^#\//, '').split('/');
    node = parts.reduce((o, p) => (o ? o[p.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), doc);
  }
  return node;
}

function jsonContent(content) {
  if (!content) return null;
  const type = Object.keys(content).find((t) => /json/.test(t)) || Object.keys(content)[0];
  return type ? { content_type: type, schema: prune(content[type].schema || {}) } : null;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const ops = [];
for (const [rawPath, item] of Object.entries(doc.paths || {})) {
  // Some paths carry a query suffix ("/responses/{id}?beta=true"): a variant
  // of the same route that Prism also serves; the driver prefers the plain one.
  const [path, variant] = rawPath.split('?');
  const shared = (item.parameters || []).map(deref);
  for (const method of METHODS) {
    const op = item[method];
    if (!op) continue;
    const params = {};
    for (const p of shared.concat((op.parameters || []).map(deref))) {
      params[`${p.in}:${p.name}`] = {
        name: p.name, in: p.in, required: !!p.required, schema: prune(p.schema || {}),
        style: p.style, explode: p.explode,
      };
    }
    const responses = {};
    for (const [code, r] of Object.entries(op.responses || {})) {
      const resp = deref(r) || {};
      responses[code] = jsonContent(resp.content) || {};
    }
    const body = op.requestBody ? deref(op.requestBody) : null;
    ops.push({
      method: method.toUpperCase(),
      path,
      variant: variant || null,
      key: `${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '{}')}`,
      operation_id: op.operationId || null,
      params: Object.values(params),
      responses,
      request_body: body ? { required: !!body.required, ...(jsonContent(body.content) || {}) } : null,
      security: (op.security || doc.security || []).map((s) => Object.keys(s)).flat(),
    });
  }
}

const schemas = {};
for (const [name, s] of Object.entries((doc.components && doc.components.schemas) || {})) {
  schemas[name] = prune(s);
}

fs.writeFileSync(outPath, JSON.stringify({
  title: doc.info && doc.info.title, version: doc.info && doc.info.version,
  openapi: doc.openapi, ops, schemas,
}));
process.stdout.write(`${ops.length} operations, ${Object.keys(schemas).length} schemas\n`);
