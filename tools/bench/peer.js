// The same transformation as firehose-enricher, written the way AWS's
// Node.js Firehose blueprint ("kinesis-firehose-process-record") is: a handler
// that maps records through Buffer.from(data, 'base64'), JSON.parse, the
// enrichment, JSON.stringify + '\n' and base64 back. It is the baseline a user
// would otherwise copy, so it is written plainly, not tuned.
//
//   node peer.js bench FILE [--iterations N]   one JSON line, like `firehose-enricher bench`
//   node peer.js invoke FILE                   the response JSON
//
// The timing covers what Lambda bills for on every invocation of a Node
// function: JSON.parse of the request, the handler, JSON.stringify of the
// response (the Node runtime does the parse and the stringify).
'use strict';

const fs = require('fs');
const psl = require('psl');

const TIME_FIELDS = ['timestamp', 'ts', 'time', 'created_at'];
const URL_FIELDS = ['url', 'page_url', 'href', 'location'];
const HOST_FIELDS = ['domain', 'hostname', 'host'];
const MAX_FUTURE_MS = 86400000; // 1d
const MAX_AGE_MS = 30 * 86400000; // 30d

// Epoch numbers: the unit by magnitude, as the Rust function does.
function epochMillis(v) {
  if (!Number.isFinite(v)) return null;
  const a = Math.abs(v);
  let ms;
  if (a < 1e11) ms = v * 1000;
  else if (a < 1e14) ms = v;
  else if (a < 1e17) ms = v / 1000;
  else ms = v / 1e6;
  return Math.floor(ms);
}

function parseTime(v) {
  if (typeof v === 'number') return epochMillis(v);
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (s === '') return null;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return epochMillis(Number(s));
  // ISO 8601 without an offset means UTC (Date.parse would use local time
  // for a date-time); a trailing " UTC" is read by Date.parse.
  let t = s;
  if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?$/.test(s)) t = s + 'Z';
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

function formatTime(ms) {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (Number.isNaN(y) || y < 0 || y > 9999) return null;
  return d.toISOString().slice(0, 23).replace('T', ' ');
}

function hostFromUrl(s) {
  s = s.trim();
  let url;
  try {
    url = new URL(s);
  } catch (e) {
    try {
      if (s.startsWith('//')) url = new URL('http:' + s);
      else if (!s.startsWith('/')) url = new URL('http://' + s);
      else return null;
    } catch (e2) {
      return null;
    }
  }
  return normalizeHost(url.hostname);
}

function hostFromBare(s) {
  s = s.trim();
  if (s === '' || /[/\\?#\s]/.test(s)) return null;
  if (s.split(':').length > 2 && !s.startsWith('[')) s = '[' + s + ']';
  try {
    return normalizeHost(new URL('http://' + s + '/').hostname);
  } catch (e) {
    return null;
  }
}

function normalizeHost(h) {
  if (h.startsWith('[')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h === '' ? null : h;
}

function siteOf(host) {
  if (host.includes(':') || /^[\d.]+$/.test(host)) return host;
  return psl.get(host) || host;
}

function safeValue(v) {
  return v && v.length <= 253 && v !== '.' && v !== '..' && /^[a-z0-9._-]+$/.test(v) ? v : 'unknown';
}

function enrich(event, arrival) {
  const received = formatTime(arrival);
  let eventTime = null;
  const field = TIME_FIELDS.find((f) => event[f] !== undefined && event[f] !== null);
  if (field !== undefined) {
    const t = parseTime(event[field]);
    if (t !== null && t <= arrival + MAX_FUTURE_MS && t >= arrival - MAX_AGE_MS) {
      eventTime = formatTime(t);
    }
  }
  let host = null;
  const urlField = URL_FIELDS.find((f) => typeof event[f] === 'string');
  if (urlField !== undefined) host = hostFromUrl(event[urlField]);
  if (host === null) {
    const hostField = HOST_FIELDS.find((f) => typeof event[f] === 'string');
    if (hostField !== undefined) host = hostFromBare(event[hostField]);
  }
  event.event_time = eventTime || received;
  event.event_time_source = eventTime ? 'event' : 'arrival';
  event.received_at = received;
  event.domain = host;
  event.site = host === null ? null : siteOf(host);
  return event;
}

exports.handler = async (event) => {
  const output = event.records.map((record) => {
    try {
      const payload = Buffer.from(record.data, 'base64').toString('utf8');
      const parsed = JSON.parse(payload);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not_object');
      const arrival = Math.floor(Number(record.approximateArrivalTimestamp));
      if (!Number.isFinite(arrival)) throw new Error('bad_arrival_time');
      const enriched = enrich(parsed, arrival);
      return {
        recordId: record.recordId,
        result: 'Ok',
        data: Buffer.from(JSON.stringify(enriched) + '\n', 'utf8').toString('base64'),
        metadata: {
          partitionKeys: {
            site: safeValue(enriched.site),
            dt: enriched.event_time.slice(0, 10),
            hour: enriched.event_time.slice(11, 13),
          },
        },
      };
    } catch (e) {
      return { recordId: record.recordId, result: 'ProcessingFailed', data: record.data };
    }
  });
  return { records: output };
};

// What the Node runtime does around the handler for each invocation.
async function invokeOnce(requestText) {
  const response = await exports.handler(JSON.parse(requestText));
  return JSON.stringify(response);
}

async function main() {
  const [command, file, ...rest] = process.argv.slice(2);
  if (!['bench', 'invoke'].includes(command) || !file) {
    console.error('usage: node peer.js bench FILE [--iterations N] | node peer.js invoke FILE');
    process.exit(2);
  }
  const requestText = fs.readFileSync(file, 'utf8');
  if (command === 'invoke') {
    process.stdout.write((await invokeOnce(requestText)) + '\n');
    return;
  }
  const at = rest.indexOf('--iterations');
  const iterations = at >= 0 ? parseInt(rest[at + 1], 10) : 50;
  if (!(iterations >= 1)) {
    console.error('--iterations must be a whole number >= 1');
    process.exit(2);
  }
  const request = JSON.parse(requestText);
  const records = request.records.length;
  const decodedBytes = request.records.reduce((n, r) => n + Buffer.from(r.data, 'base64').length, 0);
  // Warm-up: let V8 optimize the hot paths, as a warm Lambda would have.
  for (let i = 0; i < 10; i++) await invokeOnce(requestText);
  const times = [];
  for (let i = 0; i < iterations; i++) {
    const started = process.hrtime.bigint();
    await invokeOnce(requestText);
    times.push(Number(process.hrtime.bigint() - started) / 1e9);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    JSON.stringify({
      records,
      decoded_bytes: decodedBytes,
      iterations,
      median_ms: Math.round(median * 1e6) / 1e3,
      records_per_s: Math.round(records / median),
      mb_per_s: Math.round((decodedBytes / 1e6 / median) * 10) / 10,
    }),
  );
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e.stack || String(e));
    process.exit(1);
  });
}
