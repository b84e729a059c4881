#!/usr/bin/env node
// Known-answer vectors for the webhook signature, computed by Node.js itself.
//
// Usage: node shared/tests/vectors/make-vectors.js [OUT_DIR]   (default: this script's dir)
// Writes two files, each a JSON array (pretty-printed, one object per vector, stable
// order). All strings are ordinary JSON strings; "bytes" means their UTF-8 encoding.
//
// stringify.json: [{ "name", "input", "output" }]
//   input  - the text of one JSON value (may be pretty-printed, use escapes, repeat keys)
//   output - JSON.stringify(JSON.parse(input)), exactly as Node prints it
//
// hmac.json: [{ "name", "secret", "body", "result_bytes", "signature" }]
//   secret       - the configured secret (fake; some carry Extracta's "E_AI_K_" prefix)
//   body         - the raw HTTP request body
//   result_bytes - JSON.stringify(JSON.parse(body).result): the exact message signed
//   signature    - the x-webhook-signature header value:
//                  base64(HMAC-SHA256(key, result_bytes)), where key is secret with the
//                  first occurrence of "E_AI_K_" removed (secret.replace("E_AI_K_", ""))
//
// shared/tests/node_differential.rs checks the Rust stringify against stringify.json,
// checks that hmac.json is self-consistent, and (with Node on PATH) that this script
// still reproduces both files byte for byte. Regenerate after editing this script.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const outDir = process.argv[2] || __dirname;

// [name, input text]. Backslashes are doubled for JS, so '\\u0041' is the six characters
// \u0041 in the JSON text.
const STRINGIFY_CASES = [
  ['empty object', '{}'],
  ['empty array', '[]'],
  ['empty containers, spaced', ' { "a" : [ ] , "b" : { } } '],
  ['pretty printed', '{\n  "a": [\n    1,\n    2\n  ],\n  "b": {\n    "c": null\n  }\n}\n'],
  ['tabs and CRLF', '[\r\n\t1,\r\n\ttrue,\r\n\tfalse\r\n]'],
  ['literals', '[true,false,null]'],
  ['top-level string', '"hello"'],
  ['top-level number', ' 42 '],
  ['top-level null', 'null'],
  ['index keys first, ascending', '{"b":1,"10":2,"a":3,"2":4,"0":5}'],
  ['non-canonical index-like keys stay in place', '{"z":0,"01":1,"-1":2,"1.5":3,"+1":4," 1":5,"00":6,"1e3":7,"1":8}'],
  ['largest array index 4294967294', '{"x":0,"4294967295":1,"4294967294":2}'],
  ['2^32 and 2^53 are ordinary keys', '{"x":0,"4294967296":1,"9007199254740993":2,"3":3}'],
  ['escaped index key', '{"a":0,"\\u0031\\u0030":1,"\\u0032":2}'],
  ['empty key', '{"b":1,"":2,"a":3}'],
  ['duplicate key keeps first position, last value', '{"a":1,"b":2,"a":3}'],
  ['duplicate via escape', '{"a":1,"b":2,"\\u0061":{"c":[true]}}'],
  ['duplicate index key', '{"7":1,"z":2,"7":3}'],
  ['duplicate __proto__', '{"__proto__":1,"x":2,"__proto__":{"y":3}}'],
  ['__proto__ is an ordinary key', '{"__proto__":[1],"constructor":2,"toString":3,"length":4}'],
  ['nested duplicates', '{"a":{"x":1,"x":2},"b":[{"y":1,"0":2,"y":3}]}'],
  ['1.0 is 1', '[1.0,-1.0,1.50,100.000]'],
  ['negative zero', '[-0,-0.0,-0e5,0e-5]'],
  ['exponent forms', '[1e3,1E3,1e+3,1E+3,1e-3,1E-3,12.5e-1,-7.25E+2]'],
  ['1e21 switches to exponent', '[1e20,1e21,123456789012345678901,999999999999999999999]'],
  ['1e-7 switches to exponent', '[0.000001,0.0000001,0.0000012345,1.5e-7]'],
  ['subnormals and limits', '[5e-324,4.9e-324,2e-324,2.2250738585072014e-308,1.7976931348623157e308]'],
  ['overflow becomes null', '[1e400,-1e400,1.7976931348623159e308]'],
  ['underflow becomes 0', '[1e-400,-1e-400]'],
  ['integers beyond 2^53', '[9007199254740992,9007199254740993,9007199254740995,12345678901234567890]'],
  ['shortest round trip', '[0.1,0.2,0.30000000000000004,0.3,1.1,100.1,3.141592653589793]'],
  ['halfway between two shortest: even digit', '[123932407648950.625,-1962943520651105.25,1962943520651105.75,18014398509481990]'],
  ['long digit strings', '[3.14159265358979323846264338327950288419716939937510582097494459,0.000000000000000000000000000000000000000000000000000000000001,1000000000000000000000000000000000000000000000000000000000000]'],
  ['near-halfway rounding', '[9007199254740993.0000000000000000001,2.4703282292062327e-324,2.4703282292062328e-324]'],
  ['exponent boundaries', '[1e-6,1e-7,-1e-7,123e18,1234e18,1.2e+25,0.1e-5,1e-5]'],
  ['negative numbers', '[-1,-0.5,-123456789,-1.5e-10,-5e-324,-1e21]'],
  ['array of objects with index keys', '[{"1":1,"0":0},{"b":0,"a":1},{}]'],
  ['simple escapes', '"\\"\\\\\\/\\b\\f\\n\\r\\t"'],
  ['slash written raw', '"a/b\\/c"'],
  ['all control characters escaped', '"' + Array.from({ length: 32 }, (_, i) => '\\u' + i.toString(16).padStart(4, '0')).join('') + '"'],
  ['uppercase hex escapes', '"\\u001F\\u000B\\u00E9\\u2028"'],
  ['DEL raw', '"\\u007f\u007f"'],
  ['U+2028 and U+2029 raw', '"\\u2028\\u2029\u2028\u2029"'],
  ['non-ASCII raw', '"caf\u00e9 \u4e2d\u6587 \u20ac \\u00e9\\u4E2D"'],
  ['astral raw', '"\ud83d\ude00 \udbff\udfff"'],
  ['astral escaped pair', '"\\ud83d\\ude00\\uD83D\\uDE00\\udbff\\udfff"'],
  ['lone high surrogate', '"\\ud800"'],
  ['lone low surrogate', '"x\\udfffy"'],
  ['lone surrogates uppercase', '"\\uD800\\uDBFF\\uDC00"'],
  ['reversed pair', '"\\udc00\\ud800"'],
  ['high then pair', '"\\ud800\\ud83d\\ude00"'],
  ['high then raw astral', '"\\ud800\ud83d\ude00"'],
  ['high then ordinary escape', '"\\ud800\\u0041\\n"'],
  ['lone surrogate in key', '{"\\udc00":1,"\\ud800x":2}'],
  ['BOM and noncharacters raw', '"\\ufeff\ufeff\\uffff\\ufffe\\ufffd"'],
  ['escaped printable ASCII', '"\\u0041\\u0062\\u0020\\u007e"'],
  ['escapes in keys', '{"a\\"b":1,"c\\\\d":2,"e\\nf":3,"g\\/h":4}'],
  ['whitespace inside strings kept', '" a \\t b \\r\\n "'],
  ['NUL', '"a\\u0000b"'],
  ['deep nesting', '[[[[[[[[[[{"a":[[[[{"b":{}}]]]]}]]]]]]]]]]'],
  ['mixed document', '{\n  "event": "extraction.processed",\n  "result": [\n    {\n      "fileName": "r\\u00e9sum\\u00e9.pdf",\n      "status": "processed",\n      "result": {"total": 12.50, "1": "one", "0": "zero", "total": 13.0e0},\n      "url": "https:\\/\\/example.invalid\\/a"\n    }\n  ]\n}'],
  ['many keys, repeats after 16', '{' + Array.from({ length: 24 }, (_, i) => `"k${i}":${i}`).join(',') + ',"k3":"again","20":0,"k23":null}'],
];

const HMAC_CASES = [
  {
    name: 'prefixed secret, compact body',
    secret: 'E_AI_K_test-secret-not-real',
    body: '{"event":"extraction.processed","result":[{"extractionId":"-Ntest1","batchId":"-Nbatch1","fileId":"-Nfile1","fileName":"invoice.pdf","status":"processed","result":{"invoice_number":"INV-001","total":1250.5,"paid":false,"lines":[{"qty":2,"price":625.25}]},"url":"https://example.invalid/files/invoice.pdf"}]}',
  },
  {
    name: 'secret without prefix, compact body',
    secret: 'test-secret-not-real-no-prefix',
    body: '{"event":"extraction.processed","result":[{"extractionId":"-Ntest2","batchId":"-Nbatch2","fileId":"-Nfile2","fileName":"receipt.png","status":"processed","result":{"merchant":"Caf\u00e9 \u4e2d","total":9.99},"url":"https://example.invalid/files/receipt.png"}]}',
  },
  {
    name: 'prefixed secret, pretty-printed body (raw result bytes differ from the signed text)',
    secret: 'E_AI_K_test-secret-not-real',
    body: JSON.stringify(JSON.parse('{"event":"extraction.processed","result":[{"extractionId":"-Ntest3","batchId":"-Nbatch3","fileId":"-Nfile3","fileName":"contract.pdf","status":"processed","result":{"parties":["A","B"],"amount":1.5e3,"signed":true,"notes":null},"url":"https://example.invalid/files/contract.pdf"}]}'), null, 2) + '\n',
  },
  {
    name: 'prefixed secret, failed file with error',
    secret: 'E_AI_K_test-secret-not-real',
    body: '{"event":"extraction.failed","result":[{"extractionId":"-Ntest4","batchId":"-Nbatch4","fileId":"-Nfile4","fileName":"scan.tiff","status":"failed","error":"Unsupported file type","url":""}]}',
  },
  {
    name: 'secret repeating the prefix (only the first is removed)',
    secret: 'E_AI_K_E_AI_K_test-secret-not-real',
    body: '{"event":"extraction.processed","result":[]}',
  },
  {
    name: 'pretty body with escapes, repeated keys, index keys and number forms',
    secret: 'E_AI_K_test-secret-not-real',
    body: '{\n  "event" : "extraction.processed",\n  "result" : [ {\n    "fileName" : "r\\u00e9sum\\u00e9 \\/ cv.pdf",\n    "status" : "processed",\n    "result" : { "b" : 1.0, "10" : "ten", "a" : 1e21, "2" : 2E-7, "b" : -0, "s" : "\\ud800\\u001F\u2028" },\n    "url" : "https:\\/\\/example.invalid\\/x"\n  } ]\n}\n',
  },
];

function stringifyVectors() {
  return STRINGIFY_CASES.map(([name, input]) => {
    if (!input.isWellFormed()) throw new Error(`${name}: input must be well-formed UTF-16`);
    return { name, input, output: JSON.stringify(JSON.parse(input)) };
  });
}

function hmacVectors() {
  return HMAC_CASES.map(({ name, secret, body }) => {
    const resultBytes = JSON.stringify(JSON.parse(body).result);
    const key = secret.replace('E_AI_K_', '');
    const signature = crypto.createHmac('sha256', key).update(resultBytes).digest('base64');
    return { name, secret, body, result_bytes: resultBytes, signature };
  });
}

fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'stringify.json'), JSON.stringify(stringifyVectors(), null, 2) + '\n');
fs.writeFileSync(path.join(outDir, 'hmac.json'), JSON.stringify(hmacVectors(), null, 2) + '\n');
