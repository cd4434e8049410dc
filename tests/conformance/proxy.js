// tests/conformance/proxy.js — a small HTTP proxy in front of Prism, on
// 127.0.0.1 only. runctl talks to it as its base URL; it forwards every
// request unchanged and keeps a log the driver reads back: what runctl sent
// (path, query, headers with credentials redacted), Prism's status and its
// validation findings. Each response gets headers for the driver:
//   x-request-id              conf_N, the log entry (so resp and err name it)
//   x-conformance-violations  "request=N, response=M": Prism's findings
//                             (sl-violations) about the request and about
//                             the answer it generated
//   x-conformance-shape       "COUNT/FNV": a digest of the body's structure
//                             (every path with its JSON type, string length,
//                             integer value), which the driver recomputes
//                             from what runctl decoded
//   x-conformance-mutated     the mutations made (dynamic only)
//   x-conformance-duplicate-headers  names of header lines runctl sent twice
//
//   /static/...   forwarded as is: Prism answers from the spec's examples.
//   /dynamic/...  forwarded with "Prefer: dynamic=true": Prism generates a
//                 random answer from the schema; when its generator crashes
//                 (a 500 of its own) the request is sent again, so runctl only
//                 sees generated answers. Then a seeded share of 2xx JSON
//                 bodies is mutated as a newer server might answer: an unknown
//                 status, extra fields, text and numbers spelled the hard way,
//                 optional fields left out (those the driver names).
//   /_log/N       log entry N (JSON); /_log?last=N the last N entries.
//
// usage: node proxy.js UPSTREAM_URL PORT_FILE [SEED]
'use strict';

const http = require('http');
const fs = require('fs');

const [upstreamArg, portFile, seedArg] = process.argv.slice(2);
if (!upstreamArg || !portFile) {
  process.stderr.write('usage: node proxy.js UPSTREAM_URL PORT_FILE [SEED]\n');
  process.exit(2);
}
const upstream = new URL(upstreamArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const REGENERATE_MAX = 20;

// A small seeded generator (mulberry32) so a failing run can be replayed
// with the same mutations (run.sh prints the seed).
let state = (Number(seedArg) || Date.now()) >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const LOG_MAX = 500;
const log = new Map();
let seq = 0;
let regenerated = 0;

function remember(entry) {
  log.set(entry.seq, entry);
  if (log.size > LOG_MAX) log.delete(log.keys().next().value);
}

const SECRET_HEADERS = new Set(['authorization', 'api-key', 'proxy-authorization', 'cookie']);
function redact(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) {
    out[k] = SECRET_HEADERS.has(k) ? String(v).replace(/^(\S+\s)?.*$/, (m, scheme) => `${scheme || ''}<redacted>`) : v;
  }
  return out;
}

// Prism reports what it found wrong in sl-violations, a JSON array that it
// cuts short ("Too many violations! [...") when long; so count by pattern.
// A location starting with "response" is about the answer Prism generated;
// anything else (query, path, header, body) is about the request.
function findings(header) {
  const out = { request: 0, response: 0, truncated: false, locations: [] };
  if (!header) return out;
  out.truncated = /^Too many violations/.test(header);
  for (const m of String(header).matchAll(/"location":\[([^\]]*)\]/g)) {
    const loc = m[1].split(',').map((s) => s.replace(/^"|"$/g, ''));
    if (loc[0] === 'response') {
      out.response += 1;
      out.locations.push(loc.slice(2).join('.'));   // after "response","body"
    } else {
      out.request += 1;
    }
  }
  return out;
}

// The structure of a JSON value as lines "path=type[:detail]", keys sorted;
// drive.lua builds the same lines from runctl's decoded value. An empty
// object and an empty array are both "empty": Lua has one empty table.
// Whole numbers below 2^53 are integers, as runctl's json.decode makes them.
function signature(v, path, out) {
  if (v === null) out.push(`${path}=null`);
  else if (Array.isArray(v)) {
    if (v.length === 0) out.push(`${path}=empty`);
    v.forEach((x, i) => signature(x, `${path}[${i}]`, out));
  } else if (typeof v === 'object') {
    const keys = Object.keys(v).sort();
    if (keys.length === 0) out.push(`${path}=empty`);
    for (const k of keys) signature(v[k], `${path}.${k}`, out);
  } else if (typeof v === 'string') out.push(`${path}=string:${Buffer.byteLength(v)}`);
  else if (typeof v === 'boolean') out.push(`${path}=${v}`);
  else if (Number.isInteger(v) && Math.abs(v) < 2 ** 53) out.push(`${path}=integer:${v}`);
  else out.push(`${path}=number`);
  return out;
}

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) h = Math.imul(h ^ byte, 16777619) >>> 0;
  return h.toString(16).padStart(8, '0');
}

// The mutations a newer server might make; each is applied to the top-level
// object and to every item of a list page's data array.
const UNKNOWN_STATUS = 'conformance_unknown_status';
const MUTATIONS = {
  status(obj) {
    if (typeof obj.status !== 'string') return false;
    obj.status = UNKNOWN_STATUS;
    return true;
  },
  extra(obj) {
    obj.x_conformance_extra = { nested: [1, null, 'two', { deep: true }], ratio: 0.5, empty: {}, none: [] };
    return true;
  },
};

// Text and numbers whose JSON spelling is the hard part (escapes, surrogate
// pairs, NUL, 2^53 - 1, 2.0, exponents, -0): spliced in as raw JSON text,
// since JSON.stringify would spell them the easy way.
const TRICKY = '"x_conformance_text":"caf\\u00e9 \\ud83d\\ude00 nul\\u0000 tab\\t \\"q\\" \\\\ \\/",'
  + '"x_conformance_numbers":[9007199254740991,2.0,1e-7,-0,-12.5e3]';

// drop: the driver names the fields its schema makes optional (top level and
// list items) in x-conformance-drop / x-conformance-drop-items; they go.
function dropOptional(doc, top, items) {
  let any = false;
  const drop = (obj, names) => {
    for (const n of names) if (Object.prototype.hasOwnProperty.call(obj, n)) { delete obj[n]; any = true; }
  };
  drop(doc, top);
  if (Array.isArray(doc.data)) for (const x of doc.data) if (x && typeof x === 'object') drop(x, items);
  return any;
}

function mutate(doc, dropTop, dropItems) {
  const targets = [doc].concat(Array.isArray(doc.data) ? doc.data.filter((x) => x && typeof x === 'object') : []);
  const mutated = [];
  for (const [name, fn] of Object.entries(MUTATIONS)) {
    if (random() >= 0.3) continue;
    let any = false;
    for (const t of targets) any = fn(t) || any;
    if (any) mutated.push(name);
  }
  if ((dropTop.length || dropItems.length) && random() < 0.3 && dropOptional(doc, dropTop, dropItems)) {
    mutated.push('drop');
  }
  return mutated;
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function control(req, res, url) {
  const one = url.pathname.match(/^\/_log\/(\d+)$/);
  if (one) {
    const entry = log.get(Number(one[1]));
    return entry ? sendJson(res, 200, entry) : sendJson(res, 404, { error: 'no such entry' });
  }
  if (url.pathname === '/_log') {
    const last = Math.max(1, Math.min(LOG_MAX, Number(url.searchParams.get('last')) || 20));
    return sendJson(res, 200, { count: seq, regenerated, entries: Array.from(log.values()).slice(-last) });
  }
  return sendJson(res, 404, { error: 'unknown control path' });
}

// One round trip to Prism; resolves {status, headers, body} or rejects.
function forward(method, target, headers, body) {
  return new Promise((resolve, reject) => {
    const up = http.request({
      host: upstream.hostname, port: upstream.port, method, path: target, headers, agent,
    }, (ur) => {
      const parts = [];
      ur.on('data', (c) => parts.push(c));
      ur.on('end', () => resolve({ status: ur.statusCode, headers: ur.headers, body: Buffer.concat(parts).toString('utf8') }));
      ur.on('error', reject);
    });
    up.on('error', reject);
    up.end(body);
  });
}

// Prism's own failure to generate an answer (json-schema-faker throwing on a
// schema it cannot handle), as opposed to an answer the spec documents.
function generatorCrashed(r) {
  return r.status === 500 && /prism\/errors#UNKNOWN/.test(r.body);
}

async function handle(req, res, mode, target, reqBody) {
  const n = ++seq;
  const headers = { ...req.headers, host: upstream.host };
  const names = (h) => String(h || '').split(',').map((x) => x.trim()).filter(Boolean);
  const dropTop = names(headers['x-conformance-drop']);
  const dropItems = names(headers['x-conformance-drop-items']);
  delete headers['x-conformance-drop'];   // for the proxy, not for Prism
  delete headers['x-conformance-drop-items'];
  if (mode === 'dynamic') {
    headers.prefer = headers.prefer ? `${headers.prefer}, dynamic=true` : 'dynamic=true';
  }
  const entry = {
    seq: n, mode, method: req.method, target, headers: redact(req.headers),
    request_body: reqBody.length ? reqBody.toString('utf8').slice(0, 4096) : null, regenerated: 0,
  };
  let r;
  try {
    r = await forward(req.method, target, headers, reqBody);
    while (mode === 'dynamic' && generatorCrashed(r) && entry.regenerated < REGENERATE_MAX) {
      entry.regenerated += 1;
      regenerated += 1;
      r = await forward(req.method, target, headers, reqBody);
    }
  } catch (e) {
    entry.status = 502;
    entry.problem = { title: 'proxy could not reach Prism', detail: e.message };
    remember(entry);
    return sendJson(res, 502, { error: { message: `conformance proxy: ${e.message}`, type: 'proxy_error' } });
  }
  let body = r.body;
  const ok = r.status >= 200 && r.status < 300;
  const out = { ...r.headers, 'x-request-id': `conf_${n}` };
  // A header line sent twice (Node would merge or drop the copies, so count
  // the raw lines): what runctl put on the wire, whatever Prism makes of it.
  const seen = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    seen[name] = (seen[name] || 0) + 1;
  }
  entry.duplicate_headers = Object.keys(seen).filter((k) => seen[k] > 1);
  if (entry.duplicate_headers.length) out['x-conformance-duplicate-headers'] = entry.duplicate_headers.join(',');
  entry.status = r.status;
  entry.violations = r.headers['sl-violations'] || null;
  entry.findings = findings(entry.violations);
  let doc;
  if (/json/.test(r.headers['content-type'] || '')) {
    try { doc = JSON.parse(body); } catch (e) { doc = undefined; }
  }
  if (doc !== undefined) {
    if (mode === 'dynamic' && ok && doc && typeof doc === 'object' && !Array.isArray(doc)) {
      entry.mutated = mutate(doc, dropTop, dropItems);
      if (entry.mutated.length) body = JSON.stringify(doc);
      if (random() < 0.3) {
        const text = entry.mutated.length ? body : JSON.stringify(doc);
        body = text.replace(/\}\s*$/, (Object.keys(doc).length ? ',' : '') + TRICKY + '}');
        doc = JSON.parse(body);
        entry.mutated.push('text');
      }
      if (entry.mutated.length) out['x-conformance-mutated'] = entry.mutated.join(',');
    }
    entry.signature = signature(doc, '$', []);
    out['x-conformance-shape'] = `${entry.signature.length}/${fnv1a(entry.signature.join('\n'))}`;
  }
  if (!ok && doc && typeof doc === 'object') {
    entry.problem = { title: doc.title, detail: doc.detail, validation: doc.validation };
  }
  const f = entry.findings;
  if (f.request || f.response) out['x-conformance-violations'] = `request=${f.request}, response=${f.response}`;
  entry.response_body = body.length > 65536 ? `${body.slice(0, 65536)}...` : body;
  remember(entry);
  for (const h of ['content-length', 'transfer-encoding', 'connection', 'keep-alive']) delete out[h];
  out['content-length'] = Buffer.byteLength(body);
  res.writeHead(r.status, out);
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://proxy');
  if (url.pathname.startsWith('/_log')) return control(req, res, url);
  const m = req.url.match(/^\/(static|dynamic)(\/.*)$/);
  if (!m) return sendJson(res, 404, { error: 'paths start with /static or /dynamic' });
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  // m[2] is the raw path and query, exactly as runctl sent them.
  req.on('end', () => handle(req, res, m[1], m[2], Buffer.concat(chunks)));
  return undefined;
});

server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile, `${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
