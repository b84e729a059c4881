#!/usr/bin/env node
// The documented Extracta listener's work, timed on the same bytes as the Rust figures.
//
// Driven by shared/benches/figures.rs over stdin/stdout, one JSON command per line, so
// that Node and Rust samples alternate within one run (the machine is shared and noisy):
//   {"cmd":"load","name":N,"path":P,"signature":S,"secret":K}  -> {"ok":true}
//   {"cmd":"run","name":N,"ms":T}  -> {"ns":<ns per delivery>,"iters":<count>}
//
// Per delivery it does exactly what Extracta's Node example does with a request body:
// JSON.parse of the body (as express.json() does, from the received bytes), then
// JSON.stringify(body.result), crypto.createHmac('sha256', key).update(..).digest('base64')
// with key = secret.replace('E_AI_K_', ''), and a constant-time compare with the header.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const readline = require('readline');

const loaded = new Map();

function listener(raw, signature, secret) {
  const body = JSON.parse(raw.toString('utf8'));
  const payload = JSON.stringify(body.result);
  const expected = crypto.createHmac('sha256', secret.replace('E_AI_K_', '')).update(payload).digest('base64');
  const a = Buffer.from(signature);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function run(c, ms) {
  // Calibrate a batch size, then time whole batches until `ms` has passed.
  let iters = 0;
  let batch = 1;
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1000000n;
  const start = process.hrtime.bigint();
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) {
      if (!listener(c.raw, c.signature, c.secret)) throw new Error(`${c.name}: signature does not verify`);
    }
    iters += batch;
    now = process.hrtime.bigint();
    if (now - start < 10000000n) batch *= 2;
  }
  return { ns: Number(now - start) / iters, iters };
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  const msg = JSON.parse(line);
  let reply;
  if (msg.cmd === 'load') {
    const c = { name: msg.name, raw: fs.readFileSync(msg.path), signature: msg.signature, secret: msg.secret };
    if (!listener(c.raw, c.signature, c.secret)) {
      reply = { error: `${msg.name}: the Node listener rejects this delivery` };
    } else {
      loaded.set(msg.name, c);
      reply = { ok: true, node: process.version };
    }
  } else if (msg.cmd === 'run') {
    reply = run(loaded.get(msg.name), msg.ms);
  } else {
    reply = { error: `unknown command ${msg.cmd}` };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
});
