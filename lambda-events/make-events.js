#!/usr/bin/env node
// Writes the sample Lambda events under lambda-events/ (run: `node lambda-events/make-events.js`).
//
// Each event carries a body {"event": ..., "result": [FileEntry, ...]} exactly as
// Extracta.ai sends it (JSON.stringify of the payload) and an x-webhook-signature
// made the way Extracta makes it: base64(HMAC-SHA256(key, JSON.stringify(body.result)))
// with key = the secret minus its leading "E_AI_K_". The documented local secret is
//
//     EXTRACTA_WEBHOOK_SECRET=E_AI_K_local-dev-secret-not-real
//
// Every extracted value below is made up. The output is deterministic: running the
// script again rewrites the same bytes.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const LOCAL_SECRET = 'E_AI_K_local-dev-secret-not-real';
const ROOT = __dirname;

/** base64 HMAC-SHA256 of JSON.stringify(result), keyed as Extracta keys it. */
function sign(result, secret = LOCAL_SECRET) {
  const key = secret.replace('E_AI_K_', '');
  return crypto.createHmac('sha256', key).update(JSON.stringify(result)).digest('base64');
}

// ---------------------------------------------------------------------------
// Payloads (one per event type). Ids, names, amounts: all fake.
// ---------------------------------------------------------------------------
const EXTRACTION = '-FAKEextraction000001';
const BATCH = '-FAKEbatch00000000001';

function entry(n, status, result, extra = {}) {
  const id = String(n).padStart(4, '0');
  return {
    extractionId: EXTRACTION,
    batchId: BATCH,
    fileId: `-FAKEfile00000000${id}`,
    fileName: `sample-invoice-${id}.pdf`,
    status,
    result,
    url: `https://example.com/fake-files/sample-invoice-${id}.pdf`,
    ...extra,
  };
}

const invoice1 = {
  invoice_number: 'FAKE-INV-0001',
  invoice_date: '2026-01-15',
  vendor: { name: 'Example Supplies Ltd (not real)', vat_id: 'XX000000000' },
  line_items: [
    { description: 'Sample widget', quantity: 3, unit_price: 12.5, total: 37.5 },
    { description: 'Imaginary shipping', quantity: 1, unit_price: 4.99, total: 4.99 },
  ],
  total: 42.49,
  currency: 'EUR',
  notes: 'Zahlung fällig in 30 Tagen – sample data',
};
const invoice2 = {
  invoice_number: 'FAKE-INV-0002',
  invoice_date: '2026-02-01',
  vendor: { name: 'Placeholder Parts GmbH (not real)', vat_id: 'XX111111111' },
  line_items: [{ description: 'Demo gadget', quantity: 1, unit_price: 100, total: 100 }],
  total: 100,
  currency: 'USD',
  notes: null,
};

const payloads = {
  processed: {
    event: 'extraction.processed',
    result: [entry(1, 'processed', invoice1), entry(2, 'processed', invoice2)],
  },
  edited: {
    event: 'extraction.edited',
    result: [entry(1, 'edited', { ...invoice1, total: 42.5, notes: 'corrected by a (fake) reviewer' })],
  },
  confirmed: {
    event: 'extraction.confirmed',
    result: [
      entry(1, 'confirmed', { ...invoice1, total: 42.5, notes: 'corrected by a (fake) reviewer' }),
      entry(2, 'confirmed', invoice2),
    ],
  },
  failed: {
    event: 'extraction.failed',
    result: [entry(3, 'failed', {}, { error: 'Sample error: the (fake) file could not be read' })],
  },
  // Not an event Extracta sends today: the function acknowledges it (200) and keeps
  // only the delivery archive copy.
  'classification-completed': {
    event: 'classification.completed',
    result: [
      {
        classificationId: '-FAKEclassification01',
        batchId: BATCH,
        fileId: '-FAKEfile000000000004',
        fileName: 'sample-document-0004.pdf',
        status: 'completed',
        result: { documentType: 'invoice', confidence: 0.97 },
        url: 'https://example.com/fake-files/sample-document-0004.pdf',
      },
    ],
  },
};

// ---------------------------------------------------------------------------
// Event envelopes, modelled on the aws_lambda_events / lambda_http fixtures.
// ---------------------------------------------------------------------------
const TIME = '26/Nov/2026:12:00:00 +0000';
const EPOCH_MS = 1795694400000;
const USER_AGENT = 'extracta-webhook-sample/1.0';

function commonHeaders(body, signature) {
  return {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body, 'utf8')),
    'user-agent': USER_AGENT,
    'x-webhook-signature': signature,
    'x-forwarded-for': '203.0.113.10',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
  };
}

function encodeBody(body, base64) {
  return base64 ? Buffer.from(body, 'utf8').toString('base64') : body;
}

/** API Gateway HTTP API, payload format 2.0, route POST /webhook, stage $default. */
function httpApi(body, signature, { method = 'POST', base64 = false, requestId = 'sample-http-api' } = {}) {
  const host = 'abcdef1234.execute-api.us-east-1.amazonaws.com';
  return {
    version: '2.0',
    routeKey: 'POST /webhook',
    rawPath: '/webhook',
    rawQueryString: '',
    headers: {
      accept: '*/*',
      host,
      'x-amzn-trace-id': 'Root=1-6745b8c0-000000000000000000000000',
      ...commonHeaders(body, signature),
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdef1234',
      domainName: host,
      domainPrefix: 'abcdef1234',
      http: {
        method,
        path: '/webhook',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.10',
        userAgent: USER_AGENT,
      },
      requestId,
      routeKey: 'POST /webhook',
      stage: '$default',
      time: TIME,
      timeEpoch: EPOCH_MS,
    },
    body: encodeBody(body, base64),
    isBase64Encoded: base64,
  };
}

/** API Gateway REST API (payload 1.0), resource /webhook, stage prod. */
function restApi(body, signature, { base64 = false, requestId = 'sample-rest-api' } = {}) {
  const host = 'abcdef5678.execute-api.us-east-1.amazonaws.com';
  // REST APIs keep the header case the client sent; the function matches any case.
  const headers = {
    Accept: '*/*',
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body, 'utf8')),
    Host: host,
    'User-Agent': USER_AGENT,
    'X-Webhook-Signature': signature,
    'X-Amzn-Trace-Id': 'Root=1-6745b8c0-000000000000000000000001',
    'X-Forwarded-For': '203.0.113.10',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
  };
  const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
  return {
    resource: '/webhook',
    path: '/webhook',
    httpMethod: 'POST',
    headers,
    multiValueHeaders,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdef5678',
      resourceId: 'abc123',
      resourcePath: '/webhook',
      httpMethod: 'POST',
      path: '/prod/webhook',
      stage: 'prod',
      protocol: 'HTTP/1.1',
      domainName: host,
      domainPrefix: 'abcdef5678',
      requestId,
      requestTime: TIME,
      requestTimeEpoch: EPOCH_MS,
      identity: {
        sourceIp: '203.0.113.10',
        userAgent: USER_AGENT,
      },
    },
    body: encodeBody(body, base64),
    isBase64Encoded: base64,
  };
}

/** Lambda Function URL (payload 2.0, no routes: the path is whatever was called). */
function functionUrl(body, signature, { base64 = false, requestId = 'sample-function-url' } = {}) {
  const host = 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {
      accept: '*/*',
      host,
      'x-amzn-tls-cipher-suite': 'TLS_AES_128_GCM_SHA256',
      'x-amzn-tls-version': 'TLSv1.3',
      'x-amzn-trace-id': 'Root=1-6745b8c0-000000000000000000000002',
      ...commonHeaders(body, signature),
    },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghijklmnopqrstuvwxyz012345',
      domainName: host,
      domainPrefix: 'abcdefghijklmnopqrstuvwxyz012345',
      http: {
        method: 'POST',
        path: '/',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.10',
        userAgent: USER_AGENT,
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: TIME,
      timeEpoch: EPOCH_MS,
    },
    body: encodeBody(body, base64),
    isBase64Encoded: base64,
  };
}

/** Application Load Balancer target (single-value headers). */
function alb(body, signature, { base64 = false } = {}) {
  return {
    requestContext: {
      elb: {
        targetGroupArn:
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/extracta-webhook/0123456789abcdef',
      },
    },
    httpMethod: 'POST',
    path: '/webhook',
    queryStringParameters: {},
    headers: {
      accept: '*/*',
      host: 'extracta-webhook-123456789.us-east-1.elb.amazonaws.com',
      'x-amzn-trace-id': 'Root=1-6745b8c0-000000000000000000000003',
      ...commonHeaders(body, signature),
    },
    body: encodeBody(body, base64),
    isBase64Encoded: base64,
  };
}

// ---------------------------------------------------------------------------
// Write everything.
// ---------------------------------------------------------------------------
const written = [];
function write(rel, value) {
  const file = path.join(ROOT, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2) + '\n';
  fs.writeFileSync(file, text);
  written.push(rel);
}

const sources = { 'http-api': httpApi, 'rest-api': restApi, 'function-url': functionUrl, alb };
const signatures = {};

for (const [name, payload] of Object.entries(payloads)) {
  const body = JSON.stringify(payload);
  const signature = sign(payload.result);
  // Self-check: the signed text is a substring of the body, byte for byte, and the
  // body parses back to the same result.
  if (!body.includes(JSON.stringify(payload.result))) throw new Error(`${name}: signed text not in body`);
  if (sign(JSON.parse(body).result) !== signature) throw new Error(`${name}: signature does not round-trip`);
  signatures[name] = signature;
  // The raw body, for curl --data-binary against `cargo lambda watch` or a deployed URL.
  write(`bodies/${name}.json`, body);
  for (const [dir, make] of Object.entries(sources)) {
    write(`${dir}/${name}.json`, make(body, signature));
  }
}

// Variants of the confirmed delivery for the other code paths.
{
  const payload = payloads.confirmed;
  const body = JSON.stringify(payload);
  const signature = signatures.confirmed;
  // Same delivery, body base64-encoded by the front end: must be handled the same (200).
  write('http-api/confirmed-base64.json', httpApi(body, signature, { base64: true }));
  write('rest-api/confirmed-base64.json', restApi(body, signature, { base64: true }));
  // Signed with another secret: 401, nothing stored.
  write('http-api/confirmed-bad-signature.json', httpApi(body, sign(payload.result, 'E_AI_K_some-other-secret')));
  // Same body, no x-webhook-signature header at all: 401.
  const unsigned = httpApi(body, signature);
  delete unsigned.headers['x-webhook-signature'];
  write('http-api/confirmed-unsigned.json', unsigned);
  // GET on the webhook (only reachable through a Function URL or ALB, which have no
  // routes; on the HTTP API the route is POST-only): 405 with Allow: POST.
  const get = functionUrl('', '', {});
  get.requestContext.http.method = 'GET';
  delete get.headers['x-webhook-signature'];
  delete get.headers['content-type'];
  get.headers['content-length'] = '0';
  write('function-url/get.json', get);
}

write('bodies/signatures.json', signatures);
console.log(`wrote ${written.length} files under ${path.relative(process.cwd(), ROOT) || '.'}/`);
