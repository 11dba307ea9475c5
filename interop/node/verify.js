// verify.js checks hookd's signatures with implementations that share no code with
// hookd: the Standard Webhooks JavaScript library (npm "standardwebhooks") for v1
// (HMAC-SHA256), and Node's own crypto (OpenSSL) for v1a (Ed25519), because the
// library only implements v1.
//
// Input: one JSON object per line on stdin. Output: one JSON object per line on
// stdout, in the same order: {"ok":true} plus any result fields, or
// {"ok":false,"error":"<reason>"}.
//
// Operations ("op"):
//   verify          {secret, id, timestamp, signature, body_b64}
//                   -> Webhook(secret).verify(body, headers); timestamp checked against now
//   sign            {secret, id, timestamp, body_b64}
//                   -> {"signature": Webhook(secret).sign(...)}; no clock involved
//   verify-ed25519  {public_key, id, timestamp, signature, body_b64}
//                   -> any v1a entry verifies under whpk_ public_key, timestamp within 5 min
//   sign-ed25519    {private_key, id, timestamp, body_b64}
//                   -> {"signature": "v1a,<base64>"} signed by OpenSSL from the whsk_ seed
'use strict';

const crypto = require('node:crypto');
const readline = require('node:readline');
const { Webhook } = require('standardwebhooks');

const TOLERANCE_SECONDS = 5 * 60;

// Fixed DER headers that turn a raw Ed25519 key into the SPKI / PKCS#8 documents
// Node's crypto accepts (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function decodePrefixed(value, prefix) {
  if (typeof value !== 'string' || !value.startsWith(prefix)) {
    throw new Error(`key must start with ${prefix}`);
  }
  return Buffer.from(value.slice(prefix.length), 'base64');
}

function signedContent(req) {
  return Buffer.concat([
    Buffer.from(`${req.id}.${req.timestamp}.`, 'utf8'),
    Buffer.from(req.body_b64 || '', 'base64'),
  ]);
}

function verify(req) {
  const wh = new Webhook(req.secret);
  // The library converts a Buffer payload with toString() (UTF-8), as a receiver would.
  wh.verify(Buffer.from(req.body_b64 || '', 'base64'), {
    'webhook-id': req.id,
    'webhook-timestamp': req.timestamp,
    'webhook-signature': req.signature,
  }, { jsonParse: false });
  return {};
}

function sign(req) {
  const wh = new Webhook(req.secret);
  const date = new Date(Number(req.timestamp) * 1000);
  return { signature: wh.sign(req.id, date, Buffer.from(req.body_b64 || '', 'base64')) };
}

function verifyEd25519(req) {
  const raw = decodePrefixed(req.public_key, 'whpk_');
  if (raw.length !== 32) throw new Error(`public key is ${raw.length} bytes, want 32`);
  const key = crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });

  const now = Math.floor(Date.now() / 1000);
  const ts = Number.parseInt(req.timestamp, 10);
  if (Number.isNaN(ts)) throw new Error('invalid timestamp');
  if (now - ts > TOLERANCE_SECONDS) throw new Error('timestamp too old');
  if (ts - now > TOLERANCE_SECONDS) throw new Error('timestamp too new');

  const msg = signedContent(req);
  for (const entry of String(req.signature).split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1a') continue;
    const sig = Buffer.from(entry.slice(comma + 1), 'base64');
    if (sig.length === 64 && crypto.verify(null, msg, key, sig)) return {};
  }
  throw new Error('no matching v1a signature');
}

function signEd25519(req) {
  const raw = decodePrefixed(req.private_key, 'whsk_');
  if (raw.length !== 32 && raw.length !== 64) throw new Error(`private key is ${raw.length} bytes, want 32 or 64`);
  // The seed is the first 32 bytes in both layouts (seed, or seed || public key).
  const key = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
  return { signature: 'v1a,' + crypto.sign(null, signedContent(req), key).toString('base64') };
}

const ops = { verify, sign, 'verify-ed25519': verifyEd25519, 'sign-ed25519': signEd25519 };

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (line.trim() === '') return;
  let out;
  try {
    const req = JSON.parse(line);
    const op = ops[req.op];
    if (!op) throw new Error(`unknown op ${JSON.stringify(req.op)}`);
    out = { ok: true, ...op(req) };
  } catch (err) {
    out = { ok: false, error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
