#!/usr/bin/env node
// The whole listener a customer writes from Extracta's docs, as a Node.js 20 Lambda
// function: the baseline `lambda-bench` runs beside the Rust function (bench/README.md).
//
// Naive on purpose, as the docs lead one to write it: verify the signature the documented
// way, write one S3 object per file entry and publish one SNS message per confirmed or
// failed file, all at once (Promise.all), then answer 200. No archive copy, no ordering,
// no retry beyond the SDK's own.
//
// It speaks the Lambda Runtime API itself (AWS_LAMBDA_RUNTIME_API: GET .../invocation/next,
// POST .../invocation/{id}/response or /error) with node's `http` module and a keep-alive
// agent: the small loop the official Node.js runtime runs around a handler. The only
// dependencies are the AWS SDK v3 clients (package.json; `npm ci --prefix bench/node`).
//
// Configuration: the variables the Rust function reads (docs/contract.md §6):
// RESULTS_BUCKET, RESULTS_PREFIX (default `extracta/`), CONFIRMED_TOPIC_ARN,
// FAILED_TOPIC_ARN, EXTRACTA_WEBHOOK_SECRET (one secret); region, credentials and
// AWS_ENDPOINT_URL are the SDK's own.
'use strict';

const crypto = require('crypto');
const http = require('http');
const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');
const { SNSClient, PublishCommand } = require('@aws-sdk/client-sns');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`lambda-listener: ${name} is not set`);
    process.exit(1);
  }
  return value;
}

const BUCKET = required('RESULTS_BUCKET');
const PREFIX = process.env.RESULTS_PREFIX ?? 'extracta/';
const TOPICS = {
  'extraction.confirmed': required('CONFIRMED_TOPIC_ARN'),
  'extraction.failed': required('FAILED_TOPIC_ARN'),
};
const SECRET = required('EXTRACTA_WEBHOOK_SECRET');

// Created once, outside the handler, as customers do. The endpoint, region and credentials
// come from the environment (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...); path
// style because a local S3 (moto) has no per-bucket host names.
const s3 = new S3Client({ forcePathStyle: true });
const sns = new SNSClient({});

// The documented check: the parsed body's `result`, re-serialized, HMAC-SHA256 in base64
// with the secret less its `E_AI_K_` prefix, compared in constant time with the header.
function verified(body, signature) {
  const payload = JSON.stringify(body.result);
  const expected = crypto.createHmac('sha256', SECRET.replace('E_AI_K_', '')).update(payload).digest('base64');
  const a = Buffer.from(signature || '');
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

async function handler(event) {
  const raw = event.isBase64Encoded ? Buffer.from(event.body || '', 'base64').toString('utf8') : event.body || '';
  const body = JSON.parse(raw);
  if (!verified(body, (event.headers || {})['x-webhook-signature'])) {
    return { statusCode: 401, body: JSON.stringify({ error: 'invalid signature' }) };
  }
  const entries = Array.isArray(body.result) ? body.result : [];
  const status = body.event.replace('extraction.', '');
  const key = (e) => `${PREFIX}${e.extractionId}/${e.batchId}/${e.fileId}/${status}.json`;
  await Promise.all(
    entries.map((e) =>
      s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: key(e),
          Body: JSON.stringify(e),
          ContentType: 'application/json',
        }),
      ),
    ),
  );
  const topic = TOPICS[body.event];
  if (topic) {
    await Promise.all(
      entries.map((e) =>
        sns.send(
          new PublishCommand({
            TopicArn: topic,
            Message: JSON.stringify({ event: body.event, ...e, s3: { bucket: BUCKET, key: key(e) } }),
          }),
        ),
      ),
    );
  }
  return { statusCode: 200, body: JSON.stringify({ ok: true, files: entries.length }) };
}

// --- The Runtime API loop ----------------------------------------------------------------

const [host, port] = required('AWS_LAMBDA_RUNTIME_API').split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const BASE = '/2018-06-01/runtime/invocation';

function request(method, path, payload) {
  return new Promise((resolve, reject) => {
    const headers = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const req = http.request({ host, port, method, path, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function loop() {
  for (;;) {
    const next = await request('GET', `${BASE}/next`);
    if (next.status !== 200) throw new Error(`GET /next answered ${next.status}`);
    const id = next.headers['lambda-runtime-aws-request-id'];
    let answer;
    try {
      const result = await handler(JSON.parse(next.body.toString('utf8')));
      answer = await request('POST', `${BASE}/${id}/response`, JSON.stringify(result));
    } catch (err) {
      const error = { errorType: err && err.name ? err.name : 'Error', errorMessage: String(err && err.message ? err.message : err) };
      answer = await request('POST', `${BASE}/${id}/error`, JSON.stringify(error));
    }
    if (answer.status !== 202) throw new Error(`the Runtime API answered ${answer.status} to invocation ${id}`);
  }
}

loop().catch((err) => {
  console.error(`lambda-listener: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
