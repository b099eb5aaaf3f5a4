import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { constants as fsConstants, existsSync, lstatSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { MODEL_INDEX_ROUTE, modelRoutes, type ModelIndexEntry } from './model-index.js';

export { MODEL_INDEX_ROUTE, modelRoutes, type ModelIndexEntry } from './model-index.js';

/**
 * The web app's HTTP server (`pixelcnn serve`): static files of the prebuilt page (dist/web) and
 * the two files of one checkpoint the page loads, nothing else.
 *
 * Reachable paths form a fixed allow-list built at start-up:
 *
 *   /, /index.html                  → <webDir>/index.html
 *   /assets/<name>                  → every regular file under <webDir>/assets (sub-folders included)
 *   /models/index.json              → the served models, in order (built in memory: modelIndex)
 *   /models/<name>/config.json      → <dir>/config.json         for each served model
 *   /models/<name>/model.safetensors → <dir>/model.safetensors
 *   /models/<name>/README.md, samples.png → the model card and its grid, when present
 *
 * A request path is percent-decoded once and looked up verbatim; nothing is normalised or joined
 * to a directory, so `..`, encoded slashes and backslashes simply do not match (and are refused
 * outright). Symlinks: every file's real path must lie inside the real path of its root, checked at
 * start-up (a link pointing outside is left out) and again for each request (a file swapped for a
 * link later is refused). Only GET and HEAD (405 otherwise), no request bodies (413), URLs up to
 * maxUrlLength (414), no directory listings. When bound to a loopback address the Host header
 * must name a loopback host too (a guard against DNS rebinding).
 */

/** One model the page can pick: its URL name and checkpoint directory. */
export interface ServedModel {
  /** URL path segment and the picker's key ([A-Za-z0-9][A-Za-z0-9._-]*). */
  name: string;
  /** Checkpoint directory holding config.json and model.safetensors. */
  dir: string;
}


export interface ServeOptions {
  /** The models, the page's default first (at least one). */
  models: ServedModel[];
  /** Built page (index.html and assets/); default: dist/web of this package. */
  webDir?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Longest request target accepted (default 2048 characters); longer ones get 414. */
  maxUrlLength?: number;
}

export interface RunningServer {
  server: Server;
  /** e.g. http://127.0.0.1:8080/ */
  url: string;
  port: number;
  /** The URL paths that can be fetched. */
  routes: string[];
  close(): Promise<void>;
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const DEFAULT_MAX_URL_LENGTH = 2048;
/** How deep under assets/ files are picked up. */
const MAX_ASSET_DEPTH = 4;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.wasm': 'application/wasm',
};

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; style-src 'self'; " +
    "img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // With COOP, COEP makes the page cross-origin isolated: SharedArrayBuffer (threads for the
  // wasm backend) is available; everything it loads is same-origin already.
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

interface Route {
  /** The file as found under its root (may be a link inside the root); '' for an in-memory body. */
  file: string;
  /** Served instead of a file (the model index). */
  body?: Buffer;
  /** Real path of the root directory the file must stay inside. */
  root: string;
  type: string;
  cache: string;
}

/** dist/web of this package (from dist/src/serve/server.js). */
export function defaultWebDir(): string {
  return fileURLToPath(new URL('../../web/', import.meta.url));
}

function contentType(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function inside(root: string, real: string): boolean {
  return real.startsWith(root.endsWith(sep) ? root : root + sep);
}

function realDir(dir: string, what: string): string {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    throw new Error(`${what} '${dir}' does not exist`);
  }
  if (!statSync(real).isDirectory()) throw new Error(`${what} '${dir}' is not a directory`);
  return real;
}

/** The allow-list: URL path → file. */
export function buildRoutes(models: ServedModel[], webDir: string): Map<string, Route> {
  const routes = new Map<string, Route>();
  const webRoot = realDir(webDir, 'web app directory');
  const index = join(webRoot, 'index.html');
  let hasIndex = false;
  try { hasIndex = lstatSync(index).isFile(); } catch { /* missing */ }
  if (!hasIndex) throw new Error(`web app directory '${webDir}' has no index.html (build it with \`npm run build\`)`);
  const page: Route = { file: index, root: webRoot, type: CONTENT_TYPES['.html'], cache: 'no-cache' };
  routes.set('/', page);
  routes.set('/index.html', page);

  const walk = (dir: string, url: string, depth: number) => {
    let entries: string[];
    try { entries = readdirSync(dir).sort(); } catch { return; }
    for (const name of entries) {
      // Names that would need escaping or could confuse a lookup are not served.
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) continue;
      const file = join(dir, name);
      let real: string;
      try { real = realpathSync(file); } catch { continue; } // dangling link
      if (!inside(webRoot, real)) continue; // a link leading out of the app directory
      const st = statSync(real);
      if (st.isDirectory()) {
        if (depth < MAX_ASSET_DEPTH && lstatSync(file).isDirectory()) walk(file, `${url}${name}/`, depth + 1);
      } else if (st.isFile()) {
        routes.set(`${url}${name}`, { file, root: webRoot, type: contentType(name), cache: 'no-cache' });
      }
    }
  };
  walk(join(webRoot, 'assets'), '/assets/', 1);

  if (models.length === 0) throw new Error('no model to serve');
  const seen = new Set<string>();
  for (const m of models) {
    if (!MODEL_NAME.test(m.name)) throw new Error(`model directory '${m.dir}': its name '${m.name}' cannot be a URL segment (letters, digits, '.', '_', '-')`);
    if (seen.has(m.name)) throw new Error(`two models named '${m.name}' (model directory '${m.dir}'); serve directories with different names`);
    seen.add(m.name);
    const modelRoot = realDir(m.dir, 'model directory');
    const r = modelRoutes(m.name);
    // config and weights are added even when missing: the page then reports a readable 404.
    for (const [url, file] of [[r.config, 'config.json'], [r.weights, 'model.safetensors']] as const) {
      routes.set(url, { file: join(modelRoot, file), root: modelRoot, type: contentType(file), cache: 'no-cache' });
    }
    for (const [url, file] of [[r.card, 'README.md'], [r.samples, 'samples.png']] as const) {
      if (existsSync(join(modelRoot, file))) routes.set(url, { file: join(modelRoot, file), root: modelRoot, type: contentType(file), cache: 'no-cache' });
    }
  }
  const listing = Buffer.from(JSON.stringify({ models: models.map((m) => modelIndexEntry(m, routes.has(modelRoutes(m.name).card))) }));
  routes.set(MODEL_INDEX_ROUTE, { file: '', body: listing, root: '', type: CONTENT_TYPES['.json'], cache: 'no-cache' });
  return routes;
}

/** What the picker shows of a model, read from its config.json and card (null where unreadable: the page reports why on loading it). */
export function modelIndexEntry(m: ServedModel, card: boolean): ModelIndexEntry {
  const e: ModelIndexEntry = { name: m.name, title: null, arch: null, levels: null, dataset: null, test_nats_per_image: null, test_bits_per_dim: null, card };
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  try {
    const c = JSON.parse(readFileSync(join(m.dir, 'config.json'), 'utf8')) as Record<string, Record<string, unknown> | undefined>;
    e.arch = typeof c.model?.arch === 'string' ? c.model.arch : null;
    e.levels = num(c.model?.levels);
    // A data-set record ({ name, … }), or an older checkpoint's 'mnist:train'.
    const d = c.training?.dataset as unknown;
    const set = typeof d === 'string' ? d : typeof d === 'object' && d !== null && 'name' in d && typeof d.name === 'string' ? d.name : null;
    e.dataset = set === null ? null : set.split(':')[0];
    e.test_nats_per_image = num(c.metrics?.test_nats_per_image);
    e.test_bits_per_dim = num(c.metrics?.test_bits_per_dim);
  } catch { /* left null */ }
  if (card) {
    try {
      const first = readFileSync(join(m.dir, 'README.md'), 'utf8').split('\n', 1)[0];
      e.title = first.replace(/^#+\s*/, '').trim().slice(0, 200) || null;
    } catch { /* left null */ }
  }
  return e;
}



const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Host header without the port, lower case. */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/** The request handler on its own (tests may mount it on their own server). */
export function createHandler(routes: Map<string, Route>, opts: { maxUrlLength?: number; loopbackOnly?: boolean } = {}) {
  const maxUrl = opts.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const fail = (status: number, message: string, extra: Record<string, string> = {}, close = false) => {
      const body = `${status} ${message}\n`;
      res.writeHead(status, {
        ...SECURITY_HEADERS, ...extra,
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(body)),
        'Cache-Control': 'no-store',
        ...(close ? { Connection: 'close' } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      // With Connection: close Node ends the socket once the response is out; an unread body is dropped.
    };
    const target = req.url ?? '';
    if (target.length > maxUrl) return fail(414, 'URI Too Long', {}, true);
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'Method Not Allowed', { Allow: 'GET, HEAD' }, true);
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) {
      return fail(413, 'Content Too Large (requests must not have a body)', {}, true);
    }
    if (opts.loopbackOnly) {
      const host = req.headers.host;
      if (host === undefined || !isLoopback(hostName(host))) return fail(403, 'Forbidden (unexpected Host header)');
    }
    if (!target.startsWith('/')) return fail(400, 'Bad Request');
    const end = target.search(/[?#]/);
    const rawPath = end < 0 ? target : target.slice(0, end);
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return fail(400, 'Bad Request (malformed percent-encoding)');
    }
    if (path.includes('\\') || path.includes('\0') || /(^|\/)\.\.?(\/|$)/.test(path) || rawPath.includes('\\')) {
      return fail(400, 'Bad Request (path segments "..", "." and backslashes are not allowed)');
    }
    const route = routes.get(path);
    if (!route) return fail(404, 'Not Found');
    void send(req, res, route, fail);
  };
}

async function send(req: IncomingMessage, res: ServerResponse, route: Route,
                    fail: (status: number, message: string) => void): Promise<void> {
  if (route.body) {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': route.type, 'Content-Length': String(route.body.length), 'Cache-Control': route.cache });
    res.end(req.method === 'HEAD' ? undefined : route.body);
    return;
  }
  let real: string;
  try {
    real = realpathSync(route.file);
  } catch {
    return fail(404, 'Not Found');
  }
  if (!inside(route.root, real)) return fail(404, 'Not Found');
  // Only regular files: opening a FIFO would wait for a writer and hold one of libuv's few file
  // threads for good (then nothing, Ctrl-C's clean shutdown included, gets done). Checked before
  // opening, and the open does not block in case it was swapped in between.
  let before;
  try {
    before = statSync(real);
  } catch {
    return fail(404, 'Not Found');
  }
  if (!before.isFile()) return fail(403, 'Forbidden (not a regular file)');
  let handle;
  try {
    handle = await open(real, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0));
  } catch {
    return fail(404, 'Not Found');
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return fail(403, 'Forbidden (not a regular file)');
    const body = req.method === 'HEAD' ? null : await handle.readFile();
    if (res.destroyed) return;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': route.type,
      'Content-Length': String(body ? body.length : st.size),
      'Cache-Control': route.cache,
      'Last-Modified': st.mtime.toUTCString(),
    });
    res.end(body ?? undefined);
  } catch {
    if (!res.headersSent) fail(500, 'Internal Server Error');
    else res.destroy();
  } finally {
    await handle.close();
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return host === '::' ? '[::1]' : '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the server; resolves once it listens. */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const routes = buildRoutes(o.models, o.webDir ?? defaultWebDir());
  const loopbackOnly = isLoopback(host.toLowerCase());
  const server = createServer({ maxHeaderSize: 16 * 1024 }, createHandler(routes, { maxUrlLength: o.maxUrlLength, loopbackOnly }));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8080, host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server, port, url: `http://${urlHost(host)}:${port}/`, routes: [...routes.keys()],
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
