// The Node shim: Lago's REST API over the usage engine, for local use and tests.
//
//   node www/shim/server.mjs [--empty]
//
// * `/api/v1/*` and `/portal/*` go to `engine.handle(request, now)` (the Rust API, same strings
//   as in the browser), with the emulator clock's `now`.
// * `/__emulator/clock` reads and sets that clock (Bearer key, like the API).
// * Everything else is a static file from `www/` or `pkg/` (GET/HEAD only).
// * With `STATE_FILE`, state survives restarts and kill -9: a snapshot (`engine.export()`) plus a
//   journal of the acknowledged mutations since it (see "Durable state" below).
//
// node:http only, no dependency. `createShim(options)` runs it in-process for tests.
import './v8-flags.mjs'; // first: see the file
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as usageCalc from '../../pkg/index.js';
import { loadDemo } from './demo.mjs';

const { Engine } = usageCalc;

const SHIM_DIR = path.dirname(fileURLToPath(import.meta.url));
const WWW_ROOT = path.resolve(SHIM_DIR, '..');
const PKG_ROOT = path.resolve(SHIM_DIR, '../../pkg');

/** The engine's own request limit once the API lands; Lago's 1 MiB until then. */
const API_BODY_MAX_BYTES = typeof usageCalc.apiBodyMaxBytes === 'function' ? usageCalc.apiBodyMaxBytes() : 1_048_576;
/** Journal lines between two snapshots: bounds replay time at start. */
const COMPACT_EVERY_LINES = 10_000;
/** What an over-limit request may still send while we discard it (so its client reads the 413). */
const DISCARD_MAX_BYTES = 64 * 1_048_576;
/** Static URL paths longer than this are not file names we serve. */
const STATIC_PATH_MAX_CHARS = 1_024;
const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
};
const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/** createShim options from the environment and command-line flags (what `main` runs with). */
export function configFromEnv(env = process.env, argv = process.argv.slice(2)) {
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be 0..65535, got ${env.PORT}`);
  return {
    port,
    host: env.HOST || '127.0.0.1',
    apiKey: env.LAGO_API_KEY || undefined,
    demo: env.DEMO !== '0' && !argv.includes('--empty'),
    statePath: env.STATE_FILE || undefined,
    emulatorNow: env.EMULATOR_NOW || undefined,
    compactEveryLines: env.STATE_COMPACT_LINES ? positiveInteger('STATE_COMPACT_LINES', env.STATE_COMPACT_LINES) : undefined,
  };
}

function positiveInteger(name, text) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${text}`);
  return value;
}

/** A development key, new at each start, so the API is never open without one. */
const devApiKey = () => `dev_${crypto.randomBytes(16).toString('hex')}`;

// ---------------------------------------------------------------------------------------------
// The emulator clock: plain data, `{mode: 'real'}`, `{mode: 'fixed', at_ms}` or
// `{mode: 'offset', offset_ms}`, so the journal can record and restore it.
// ---------------------------------------------------------------------------------------------

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
/** ±100,000,000 days is what a JS Date holds; stay well inside it (year 1..9999). */
const CLOCK_MIN_MS = Date.UTC(1, 0, 1);
const CLOCK_MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

/** The clock's instant in ms since the epoch, given the real one. */
function clockNowMs(clock, real_ms) {
  if (clock.mode === 'fixed') return clock.at_ms;
  if (clock.mode === 'offset') return real_ms + clock.offset_ms;
  return real_ms;
}

/** Ms since the epoch of ISO 8601 text with a zone, or null. */
function parseInstantMs(text) {
  if (typeof text !== 'string' || !ISO_INSTANT.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) && ms >= CLOCK_MIN_MS && ms <= CLOCK_MAX_MS ? ms : null;
}

/**
 * The clock after a `POST /__emulator/clock` body: `{now}` freezes, `{advance_seconds}` moves it
 * (a frozen clock stays frozen, a real one becomes an offset), `{real: true}` resets it.
 * Returns `{clock}` or `{error_details}` naming the field.
 */
function changeClock(clock, body, real_ms) {
  const keys = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
  if (keys.length !== 1) return { error_details: { base: ['one_of_now_advance_seconds_real'] } };
  if (keys[0] === 'now') {
    const at_ms = parseInstantMs(body.now);
    return at_ms === null ? { error_details: { now: ['invalid_format'] } } : { clock: { mode: 'fixed', at_ms } };
  }
  if (keys[0] === 'advance_seconds') {
    const step_ms = typeof body.advance_seconds === 'number' ? Math.round(body.advance_seconds * 1000) : NaN;
    const at_ms = clockNowMs(clock, real_ms) + step_ms;
    if (!Number.isFinite(step_ms) || at_ms < CLOCK_MIN_MS || at_ms > CLOCK_MAX_MS) {
      return { error_details: { advance_seconds: ['value_is_out_of_range'] } };
    }
    if (clock.mode === 'fixed') return { clock: { mode: 'fixed', at_ms } };
    return { clock: { mode: 'offset', offset_ms: (clock.mode === 'offset' ? clock.offset_ms : 0) + step_ms } };
  }
  if (keys[0] === 'real' && body.real === true) return { clock: { mode: 'real' } };
  return { error_details: { [keys[0]]: ['value_is_invalid'] } };
}

// ---------------------------------------------------------------------------------------------
// Static files
// ---------------------------------------------------------------------------------------------

/**
 * The file a URL path names, as `{root, segments}`, or null when it is not a plain file name under
 * a root. Purely lexical (no file system access): encoded separators, backslashes, NUL, control
 * characters, double encoding and `.`/`..`/dot-file segments are refused, raw or decoded.
 * `/` → www/index.html, `/pkg/x` → pkg/x, `/www/x` and `/x` → www/x.
 */
function staticTarget(raw_path, roots) {
  if (raw_path.length > STATIC_PATH_MAX_CHARS || !raw_path.startsWith('/')) return null;
  if (/%(2f|5c|25|00)|\\/i.test(raw_path)) return null;
  let decoded;
  try {
    decoded = decodeURIComponent(raw_path);
  } catch {
    return null; // malformed escapes or overlong UTF-8
  }
  if (/[\\%\u0000-\u001f\u007f]/.test(decoded)) return null;
  if (decoded === '/') return { root: roots.www, segments: ['index.html'] };
  const segments = decoded.slice(1).split('/');
  if (segments.some((segment) => segment === '' || segment.startsWith('.'))) return null;
  if (segments[0] === 'pkg' || segments[0] === 'www') {
    const root = segments[0] === 'pkg' ? roots.pkg : roots.www;
    return segments.length > 1 ? { root, segments: segments.slice(1) } : null;
  }
  return { root: roots.www, segments };
}

/** The file's bytes, or null unless its real path is a regular file under the root's real path. */
async function readStaticFile({ root, segments }) {
  try {
    const root_real = await fs.promises.realpath(root);
    const file_real = await fs.promises.realpath(path.join(root, ...segments));
    if (!file_real.startsWith(root_real + path.sep)) return null; // a symlink leading out
    const handle = await fs.promises.open(file_real, 'r');
    try {
      return (await handle.stat()).isFile() ? await handle.readFile() : null;
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}

async function serveStatic(shim, req, res, raw_path) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, { 'content-type': TEXT_TYPE, allow: 'GET, HEAD' }, 'Method Not Allowed\n');
  }
  const target = staticTarget(raw_path, shim.roots);
  const bytes = target && (await readStaticFile(target));
  if (!bytes) return send(res, 404, { 'content-type': TEXT_TYPE }, 'Not Found\n');
  const type = MIME_TYPES[path.extname(target.segments.at(-1)).toLowerCase()] ?? 'application/octet-stream';
  return send(res, 200, { 'content-type': type, 'cache-control': 'no-cache' }, bytes);
}

// ---------------------------------------------------------------------------------------------
// Durable state: `STATE_FILE` holds exactly `engine.export()` JSON, replaced atomically (write
// `.tmp`, fsync, rename). `STATE_FILE.journal` is NDJSON: a header `{base, clock}` (the sha256 of
// the snapshot it follows, the clock then), then one line per acknowledged mutation
// `{method, path, query, body, now}` or clock change `{clock}`, written before the response.
// A compaction writes both new files before renaming either, so a kill between the two renames
// leaves the new journal as `.tmp`, whose base names the new snapshot: the next start finishes
// the rename (the clock is in no other file). A journal whose base is not the snapshot's hash is
// ignored. Appends are write(2)s, not fsyncs: they survive kill -9, not a power cut.
// ---------------------------------------------------------------------------------------------

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

/** Writes `text` to `file_path` (replaced) and flushes it to the disk. */
function writeDurable(file_path, text) {
  const fd = fs.openSync(file_path, 'w');
  try {
    writeAll(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Renames `from` over `to` and flushes the directory: a reader sees the old or the new file. */
function renameDurable(from, to) {
  fs.renameSync(from, to);
  const dir_fd = fs.openSync(path.dirname(to), 'r');
  try {
    fs.fsyncSync(dir_fd); // the rename itself
  } finally {
    fs.closeSync(dir_fd);
  }
}

/** write(2) until every byte is out (a short write is legal even on regular files). */
function writeAll(fd, text) {
  const bytes = Buffer.from(text);
  for (let offset = 0; offset < bytes.length;) offset += fs.writeSync(fd, bytes, offset);
}

const readIfExists = (file_path) => {
  try {
    return fs.readFileSync(file_path, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return null;
    throw error;
  }
};

/**
 * The journal's header, entries and the byte length of its complete lines. Text after the last
 * newline was cut by a kill mid-write (the newline is a line's last byte): never acknowledged,
 * so dropped. An unreadable complete line is corruption and stops the start.
 */
function parseJournal(text, journal_path) {
  const complete = text.split('\n').slice(0, -1);
  const parsed = complete.map((line, index) => {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw new Error(`${journal_path}: line ${index + 1} is corrupt: ${error.message}`);
    }
  });
  const good_bytes = complete.reduce((bytes, line) => bytes + Buffer.byteLength(line) + 1, 0);
  return { header: parsed[0] ?? null, entries: parsed.slice(1), good_bytes };
}

/** The request a journal entry replays, with this run's key (the recorded one may differ). */
const replayRequest = (entry, api_key) => ({
  method: entry.method, path: entry.path, query: entry.query, body: entry.body,
  headers: { host: 'localhost', authorization: `Bearer ${api_key}`, 'content-type': 'application/json' },
});

/** The journal, opened for appends; `compact` writes a snapshot and starts a new journal. */
class StateStore {
  constructor(state_path, compact_every_lines) {
    this.state_path = state_path;
    this.journal_path = `${state_path}.journal`;
    this.compact_every_lines = compact_every_lines;
    this.journal_fd = null;
    this.lines_since_snapshot = 0;
  }

  /** Restores `shim.engine` and `shim.clock`; false when there is no state yet. */
  load(shim) {
    const snapshot = readIfExists(this.state_path);
    const base = snapshot === null ? null : sha256(snapshot); // hashed once: it may be large
    if (base !== null && this.pendingJournalBase() === base) {
      renameDurable(`${this.journal_path}.tmp`, this.journal_path); // the compaction's last step
    }
    // Other leftovers of a kill mid-compaction: never renamed, so never part of the state.
    for (const tmp of [`${this.state_path}.tmp`, `${this.journal_path}.tmp`]) fs.rmSync(tmp, { force: true });
    if (snapshot === null) return false;
    shim.engine = Engine.import(snapshot);
    shim.engine.setApiKey(shim.api_key);
    const journal = parseJournal(readIfExists(this.journal_path) ?? '', this.journal_path);
    if (journal.header?.base !== base) {
      if (journal.header) process.stderr.write(`${this.journal_path}: older than the snapshot, ignored\n`);
      return true; // the caller compacts, which starts a fresh journal
    }
    if (journal.header.clock) shim.clock = journal.header.clock;
    this.replay(shim, journal.entries);
    fs.truncateSync(this.journal_path, journal.good_bytes);
    this.journal_fd = fs.openSync(this.journal_path, 'a');
    this.lines_since_snapshot = journal.entries.length;
    return true;
  }

  replay(shim, entries) {
    let differing = 0;
    for (const entry of entries) {
      if (entry.clock) {
        shim.clock = entry.clock;
        continue;
      }
      const response = shim.engine.handle(replayRequest(entry, shim.api_key), entry.now);
      if (response.status >= 300) differing += 1;
    }
    if (differing > 0) process.stderr.write(`${this.journal_path}: ${differing} replayed requests were refused this time\n`);
  }

  /** Records one acknowledged change; call before the response goes out. */
  append(entry) {
    writeAll(this.journal_fd, `${JSON.stringify(entry)}\n`);
    this.lines_since_snapshot += 1;
    return this.lines_since_snapshot >= this.compact_every_lines;
  }

  /** The base of a journal a compaction wrote but did not rename (its header whole), or null. */
  pendingJournalBase() {
    try {
      return parseJournal(readIfExists(`${this.journal_path}.tmp`) ?? '', '').header?.base ?? null;
    } catch {
      return null; // never renamed, and unreadable: a leftover like any other
    }
  }

  /**
   * Both files written and flushed, then renamed snapshot first: a kill before the snapshot's
   * rename leaves the old pair whole; after it, the new journal waits as `.tmp` for `load`.
   */
  compact(shim) {
    const snapshot = JSON.stringify(shim.engine.export());
    const header = `${JSON.stringify({ base: sha256(snapshot), clock: shim.clock })}\n`;
    writeDurable(`${this.state_path}.tmp`, snapshot);
    writeDurable(`${this.journal_path}.tmp`, header);
    if (this.journal_fd !== null) fs.closeSync(this.journal_fd);
    this.journal_fd = null;
    renameDurable(`${this.state_path}.tmp`, this.state_path);
    renameDurable(`${this.journal_path}.tmp`, this.journal_path);
    this.journal_fd = fs.openSync(this.journal_path, 'a');
    this.lines_since_snapshot = 0;
  }

  close() {
    if (this.journal_fd !== null) fs.closeSync(this.journal_fd);
    this.journal_fd = null;
  }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/** Sends a whole response; every response has a content-length (the access log reads it). */
function send(res, status, headers, body) {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.body_bytes = bytes.length; // for the access log
  res.writeHead(status, { ...headers, 'content-length': bytes.length });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

const sendJson = (res, status, value) => send(res, status, { 'content-type': JSON_TYPE }, JSON.stringify(value));

/** The answer while the state file cannot be written (see `shim.fail`), naming the error. */
const sendStateFailed = (res, shim) => sendJson(res, 503, { status: 503, error: 'Service Unavailable',
  code: 'state_not_durable', error_details: { state_file: [shim.failed.code ?? 'write_failed'] } });

/**
 * The request body as text, or null once it passes `body_max_bytes` (declared or streamed);
 * nothing past the limit is kept.
 */
function readBody(req, body_max_bytes) {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > body_max_bytes) return resolve(null);
    const chunks = [];
    let received_bytes = 0;
    const onData = (chunk) => {
      received_bytes += chunk.length;
      if (received_bytes <= body_max_bytes) return void chunks.push(chunk);
      req.off('data', onData);
      resolve(null);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Answers 413 and reads the rest of the body into nothing: closing at once would reset the
 * connection under a client still sending, which then never reads the answer. A client that
 * keeps sending past `DISCARD_MAX_BYTES` is cut off.
 */
function refuseTooLarge(req, res) {
  let discarded_bytes = 0;
  req.on('data', (chunk) => {
    discarded_bytes += chunk.length;
    if (discarded_bytes > DISCARD_MAX_BYTES) req.socket.destroy();
  });
  req.resume();
  sendJson(res, 413, { status: 413, error: 'Payload Too Large' });
}

/** Constant-time check of `Authorization: Bearer <key>` (hashes first, so lengths may differ). */
function hasApiKey(req, api_key) {
  const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const given = match[1].trim(); // as the engine reads it
  return crypto.timingSafeEqual(Buffer.from(sha256(given), 'hex'), Buffer.from(sha256(api_key), 'hex'));
}

/** The headers the engine reads, lower-case. */
function engineHeaders(headers) {
  const picked = {};
  for (const name of ['host', 'authorization', 'content-type']) if (headers[name] !== undefined) picked[name] = headers[name];
  return picked;
}

/** Parses a small JSON body; undefined when it is not JSON. */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function handleApi(shim, req, res, raw_path, query) {
  const body = await readBody(req, shim.body_max_bytes);
  if (body === null) return refuseTooLarge(req, res);
  const now = shim.nowIso();
  const request = { method: req.method, path: raw_path, query, headers: engineHeaders(req.headers), body };
  const response = shim.engine.handle(request, now);
  if (MUTATING_METHODS.has(req.method) && response.status < 300
    && !shim.record({ method: req.method, path: raw_path, query, body, now })) {
    return sendStateFailed(res, shim);
  }
  const headers = { ...response.headers, 'cache-control': 'no-store' };
  const validity = headers[VALIDITY_HEADER];
  delete headers[VALIDITY_HEADER];
  if (validity && req.method === 'GET') shim.answers.keep(req, validity, headers, response.body);
  return send(res, response.status, headers, response.body);
}

/** Sends a kept answer that still holds (synchronously: no promise on the hot path). */
function serveKept(shim, req, res) {
  if (req.method !== 'GET') return false;
  const kept = shim.answers.find(req, shim.nowMs());
  if (!kept) return false;
  res.body_bytes = kept.body_bytes;
  res.writeHead(200, kept.headers);
  res.end(kept.body);
  return true;
}

/** The engine marks answers that hold while nothing changes (`<generation> <from_ms> <to_ms>`). */
const VALIDITY_HEADER = 'x-usage-calc-valid';
/** Answers kept at most; the cache starts over when full. */
const ANSWERS_MAX = 1_000;

/**
 * Answers the engine said hold while its generation stays and the clock stays in their period
 * (today: current usage), served again without calling it: a dashboard polling usage costs a
 * lookup. Keyed by the request line; served only to the Authorization it was answered to, so a
 * cached answer reaches only a request the engine would have let through.
 */
class Answers {
  constructor(engine) {
    this.engine = engine; // () => the current engine (a restore replaces it)
    this.entries = new Map();
  }

  /** The answer kept for this request line, if it still holds and was given to the same key. */
  find(req, now_ms) {
    const entry = this.entries.get(req.url);
    if (!entry || entry.authorization !== req.headers.authorization) return undefined;
    const fresh = entry.generation === this.engine().generation && entry.from_ms <= now_ms && now_ms <= entry.to_ms;
    return fresh ? entry : undefined;
  }

  keep(req, validity, headers, body) {
    const [generation, from_ms, to_ms] = validity.split(' ').map(Number);
    if (this.entries.size >= ANSWERS_MAX) this.entries.clear();
    // Kept with the final headers: a hit sends them as they are. The body stays a string, which
    // Node writes with the headers in one go (a Buffer goes out as a separate writev part).
    const body_bytes = Buffer.byteLength(body);
    this.entries.set(req.url, {
      authorization: req.headers.authorization, generation, from_ms, to_ms,
      // A flat [name, value, …] list: writeHead takes it without walking an object.
      headers: Object.entries({ ...headers, 'content-length': String(body_bytes) }).flat(), body, body_bytes,
    });
  }
}

async function handleClock(shim, req, res) {
  const body = await readBody(req, shim.body_max_bytes);
  if (body === null) return refuseTooLarge(req, res);
  if (!hasApiKey(req, shim.api_key)) return sendJson(res, 401, { status: 401, error: 'Unauthorized' });
  if (req.method === 'POST') {
    const input = parseJson(body);
    if (input === undefined) return sendJson(res, 400, { status: 400, error: 'BadRequest: body is not JSON' });
    const changed = changeClock(shim.clock, input, Date.now());
    if (changed.error_details) {
      return sendJson(res, 422, { status: 422, error: 'Unprocessable Entity', code: 'validation_errors',
        error_details: changed.error_details });
    }
    if (!shim.setClock(changed.clock)) return sendStateFailed(res, shim);
  } else if (req.method !== 'GET') {
    return send(res, 405, { 'content-type': TEXT_TYPE, allow: 'GET, POST' }, 'Method Not Allowed\n');
  }
  return sendJson(res, 200, { now: shim.nowIso(), mode: shim.clock.mode });
}

const isUnder = (raw_path, prefix) => raw_path === prefix || raw_path.startsWith(`${prefix}/`);

async function route(shim, req, res) {
  const query_at = req.url.indexOf('?');
  const raw_path = query_at < 0 ? req.url : req.url.slice(0, query_at);
  const query = query_at < 0 ? '' : req.url.slice(query_at + 1);
  if (!raw_path.startsWith('/')) return send(res, 400, { 'content-type': TEXT_TYPE }, 'Bad Request\n');
  const api = isUnder(raw_path, '/api/v1') || isUnder(raw_path, '/portal');
  if (shim.failed && (api || raw_path === '/__emulator/clock')) return sendStateFailed(res, shim);
  if (raw_path === '/__emulator/clock') return handleClock(shim, req, res);
  if (api) return handleApi(shim, req, res, raw_path, query);
  return serveStatic(shim, req, res, raw_path);
}

/** Query values whose names look secret (`token`, `api_key`, …) become `***` in the log. */
const SECRET_NAME = /token|key|secret|password|signature/i;

function redactQuery(query) {
  if (!SECRET_NAME.test(query)) return query; // the usual case: nothing to hide
  return query.split('&').map((pair) => {
    const name = pair.split('=')[0];
    return SECRET_NAME.test(name) && pair.includes('=') ? `${name}=***` : pair;
  }).join('&');
}

/** A log writer that gathers the lines of one event-loop turn into one stdout write: a write
 * per request (synchronous for files and pipes) would cost more than the request. */
function batchedStdout() {
  let pending = [];
  const flush = () => {
    const text = pending.join('');
    pending = [];
    process.stdout.write(text);
  };
  return (line) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(`${line}\n`);
  };
}

/** `<ISO time> <method> <path[?query]> <status> <ms>ms <bytes>B`, one per request. */
function accessLogLine(started_ms, req, res) {
  const query_at = req.url.indexOf('?');
  const logged_path = query_at < 0 ? req.url : `${req.url.slice(0, query_at)}?${redactQuery(req.url.slice(query_at + 1))}`;
  const elapsed_ms = (performance.now() - started_ms).toFixed(1);
  const body_bytes = req.method === 'HEAD' || !res.headersSent ? 0 : (res.body_bytes ?? 0);
  // Closed before any answer went out: the client left (mid-body, or before the answer).
  const status = res.headersSent ? res.statusCode : 'aborted';
  return `${isoNow()} ${req.method} ${logged_path} ${status} ${elapsed_ms}ms ${body_bytes}B`;
}

/** The wall-clock time as ISO 8601, formatted once per millisecond. */
let iso_ms = 0;
let iso_text = '';
function isoNow() {
  const now_ms = Date.now();
  if (now_ms !== iso_ms) {
    iso_ms = now_ms;
    iso_text = new Date(now_ms).toISOString();
  }
  return iso_text;
}

function onRequest(shim, req, res) {
  const started_ms = performance.now();
  // 'close' also fires for an aborted response (which 'finish' would miss): one line each.
  res.on('close', () => shim.log(accessLogLine(started_ms, req, res)));
  if (!shim.failed && serveKept(shim, req, res)) return;
  route(shim, req, res).catch((error) => {
    // A client that leaves mid-body is no fault of ours: the access log says `aborted`.
    if (error.code === 'ECONNRESET' && req.destroyed) return;
    process.stderr.write(`${req.method} ${req.url}: ${error.stack ?? error}\n`);
    if (!res.headersSent) sendJson(res, 500, { status: 500, error: 'Internal Server Error' });
    else res.destroy();
  });
}

// ---------------------------------------------------------------------------------------------
// The shim
// ---------------------------------------------------------------------------------------------

/**
 * Starts a shim. Options (all optional): `port` (default 0: any free port), `host` (127.0.0.1),
 * `apiKey` (a fresh `dev_…` key), `demo` (true: load the demo organisation when there is no
 * state), `statePath` (durable state), `emulatorNow` (ISO: start frozen there),
 * `compactEveryLines`, `log(line)` (access log; stdout), `roots: {www, pkg}`.
 * Resolves to `{server, engine, url, apiKey, close()}`; `close()` snapshots the state first (not
 * after a failed state write: the files keep what was acknowledged).
 */
export async function createShim(options = {}) {
  const shim = {
    engine: null,
    api_key: options.apiKey ?? devApiKey(),
    clock: { mode: 'real' },
    roots: { www: WWW_ROOT, pkg: PKG_ROOT, ...options.roots },
    body_max_bytes: API_BODY_MAX_BYTES,
    store: options.statePath ? new StateStore(path.resolve(options.statePath), options.compactEveryLines ?? COMPACT_EVERY_LINES) : null,
    compaction_scheduled: false,
    closed: false,
    log: options.log ?? batchedStdout(),
    nowMs: () => clockNowMs(shim.clock, Date.now()),
    nowIso: () => new Date(shim.nowMs()).toISOString(),
    answers: new Answers(() => shim.engine),
    /** The write that failed (see `fail`), or null. */
    failed: null,
    /**
     * Journals an acknowledged change (before its response) and schedules a snapshot when due.
     * False when the journal could not be written: the shim has failed.
     */
    record: (entry) => {
      if (!shim.store) return true;
      try {
        if (!shim.store.append(entry) || shim.compaction_scheduled) return true;
      } catch (error) {
        shim.fail(error);
        return false;
      }
      shim.compaction_scheduled = true;
      setImmediate(() => {
        shim.compaction_scheduled = false;
        if (shim.closed || shim.failed) return;
        try {
          shim.store.compact(shim);
        } catch (error) {
          shim.fail(error);
        }
      });
      return true;
    },
    /**
     * A write of the state failed (disk full, I/O error): the files can no longer follow the
     * engine, which may hold a change they lack. From here on the API and the clock answer 503
     * and nothing more is written, so the files keep exactly what was acknowledged; a restart
     * resumes from them.
     */
    fail: (error) => {
      if (shim.failed) return;
      shim.failed = error;
      process.stderr.write(`${shim.store.state_path}: ${error.message}; the API answers 503 until a restart\n`);
    },
    /** Sets and journals the clock; false when the journal could not be written. */
    setClock: (clock) => {
      shim.clock = clock;
      return shim.record({ clock });
    },
  };
  startState(shim, options);
  const server = http.createServer((req, res) => onRequest(shim, req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = server.address();
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  return {
    server, url, apiKey: shim.api_key,
    get engine() { return shim.engine; },
    clock: () => ({ now: shim.nowIso(), mode: shim.clock.mode }),
    close: () => closeShim(shim, server),
  };
}

/** The engine and clock: restored from the state, else new (with the demo unless told not to). */
function startState(shim, options) {
  const restored = shim.store ? shim.store.load(shim) : false;
  if (options.emulatorNow !== undefined) {
    const at_ms = parseInstantMs(options.emulatorNow);
    if (at_ms === null) throw new Error(`EMULATOR_NOW must be ISO 8601 with a zone, got ${options.emulatorNow}`);
    shim.clock = { mode: 'fixed', at_ms };
  }
  if (!restored) {
    shim.engine = new Engine();
    shim.engine.setApiKey(shim.api_key);
    if (options.demo ?? true) loadDemo(shim.engine, shim.nowIso());
  }
  // A new or stale journal, a start clock or a long replay: begin from a fresh snapshot.
  if (shim.store && (shim.store.journal_fd === null || options.emulatorNow !== undefined
    || shim.store.lines_since_snapshot >= shim.store.compact_every_lines)) {
    shim.store.compact(shim);
  }
}

async function closeShim(shim, server) {
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
  if (shim.closed) return;
  shim.closed = true;
  if (shim.store) {
    if (!shim.failed) shim.store.compact(shim); // failed: the files keep what was acknowledged
    shim.store.close();
  }
}

async function main() {
  const config = configFromEnv();
  const shim = await createShim(config);
  const key_note = config.apiKey ? '(from LAGO_API_KEY)' : shim.apiKey;
  process.stdout.write(`usage-calc shim listening on ${shim.url}\nAPI key: ${key_note}\n`
    + `clock: ${JSON.stringify(shim.clock())}${config.statePath ? `\nstate: ${path.resolve(config.statePath)}` : ''}\n`);
  const stop = () => shim.close().then(() => process.exit(0), (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  });
}
