#!/usr/bin/env node
'use strict';
// valgrind memcheck over the native servers (issue 5):  npm run valgrind
//
//   node bench/valgrind.js [--requests 10000] [--clients 4] [--track-origins]
//                          [--timeout-s 900]
//
// Starts ONE node process under `valgrind --tool=memcheck` (node --jitless:
// no code generated at run time, so valgrind sees no self-modifying code)
// serving four native servers at once, the Python docs' uppercase handlers:
//   TCPServer                   TCP, a connection per request
//   UDPServer                   UDP datagrams
//   ThreadingUnixStreamServer   Unix stream, keep-alive connections
//   UnixDatagramServer          Unix datagrams
// bench/loadgen (built as bench/run.js builds it) sends --requests requests
// in all, a quarter to each, --clients at a time per transport, and checks
// every reply byte for byte. Then the server gets SIGTERM: it shuts the
// servers down, closes them and lets the event loop end, so Node tears its
// environment down (finalizers of our objects run) and valgrind checks the
// heap at exit.
//
// Memcheck's errors (invalid reads/writes, uses of uninitialised values,
// bad frees, and definite/indirect leaks) make valgrind exit with 97
// (--error-exitcode). bench/valgrind.supp holds the suppressions: Node, V8
// and libuv internals only, never a frame of the addon. Leak records are
// also classified here: a record whose allocation stack has a frame in
// socketserver.node is the addon's ("ours"), whatever is above it.
//
// Prints the ERROR SUMMARY and LEAK SUMMARY lines, the addon's definitely
// and indirectly lost bytes, and the request counts; the full log is kept in
// build/valgrind/memcheck.log.
// Exit status: 0 when every request was answered correctly, memcheck found
// 0 errors and the addon lost 0 bytes; 1 otherwise; 2 usage.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

// ---------------------------------------------------------------- server side

if (process.argv[2] === '--serve') {
  serve(process.argv[3]).catch((err) => {
    process.stderr.write(`valgrind.js (server): ${(err && err.stack) || err}\n`);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    process.stderr.write(`valgrind.js: ${(err && err.stack) || err}\n`);
    process.exit(1);
  });
}

async function serve(dir) {
  const ss = require(path.join(ROOT, 'dist', 'index.js'));
  const upperTrim = (buf) => Buffer.from(buf.toString('latin1').trim().toUpperCase(), 'latin1');
  const upperLine = (buf) => Buffer.from(buf.toString('latin1').toUpperCase(), 'latin1');
  class Conn extends ss.StreamRequestHandler {
    async handle() {
      const line = await this.rfile.readline();
      await this.wfile.write(upperTrim(line));
    }
  }
  class KeepAlive extends ss.StreamRequestHandler {
    async handle() {
      for await (const line of this.rfile) await this.wfile.write(upperLine(line));
    }
  }
  class Dgram extends ss.BaseRequestHandler {
    async handle() {
      const [data, socket] = this.request;
      await socket.sendTo(upperTrim(data), this.clientAddress);
    }
  }
  const opts = { requestQueueSize: 1024 };
  const servers = {
    tcp: new ss.TCPServer(['127.0.0.1', 0], Conn, opts),
    udp: new ss.UDPServer(['127.0.0.1', 0], Dgram),
    unix: new ss.ThreadingUnixStreamServer(path.join(dir, 'stream.sock'), KeepAlive, opts),
    'unix-dgram': new ss.UnixDatagramServer(path.join(dir, 'dgram.sock'), Dgram),
  };
  for (const s of Object.values(servers)) s.allowReuseAddress = true;
  const serving = Object.values(servers).map((s) => s.serveForever());
  let stopping = false;
  process.on('SIGTERM', async () => {
    if (stopping) return;
    stopping = true;
    for (const s of Object.values(servers)) await s.shutdown();
    for (const s of Object.values(servers)) await s.serverClose();
    process.stdout.write('STOPPED\n');
    // The event loop now ends by itself; a second SIGTERM would be fatal.
  });
  const where = Object.entries(servers).map(([k, s]) => {
    const a = s.serverAddress;
    return `${k}=${typeof a === 'string' ? a : a[1]}`;
  });
  process.stdout.write(`READY ${where.join(' ')}\n`);
  await Promise.all(serving);
}

// ---------------------------------------------------------------- runner side

function parseArgs(argv) {
  const o = { requests: 10000, clients: 4, trackOrigins: false, timeoutS: 900 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) usage(`bad value for ${a}`);
      return v;
    };
    if (a === '--requests') o.requests = num();
    else if (a === '--clients') o.clients = num();
    else if (a === '--timeout-s') o.timeoutS = num();
    else if (a === '--track-origins') o.trackOrigins = true;
    else usage(`unknown option ${a}`);
  }
  return o;
}

function usage(msg) {
  process.stderr.write(`valgrind.js: ${msg}\n`);
  process.exit(2);
}

function ensureLoadgen() {
  const src = path.join(ROOT, 'bench', 'loadgen.c');
  const bin = path.join(ROOT, 'build', 'bench', 'loadgen');
  let stale = true;
  try {
    stale = fs.statSync(src).mtimeMs > fs.statSync(bin).mtimeMs;
  } catch {}
  if (stale) {
    fs.mkdirSync(path.dirname(bin), { recursive: true });
    execFileSync('cc', ['-O2', '-Wall', '-o', bin, src], { stdio: 'inherit' });
  }
  return bin;
}

function waitForLine(child, prefix, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no "${prefix}" line within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk) => {
      buf += chunk;
      for (const line of buf.split('\n')) {
        if (line.startsWith(prefix)) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          resolve(line);
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}) before "${prefix}"`)));
  });
}

function runLoadgen(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`loadgen ${args.join(' ')} exited ${code ?? signal}: ${err.trim()}`));
      try {
        resolve({ ...JSON.parse(out.trim().split('\n').pop()), stderr: err.trim() });
      } catch {
        reject(new Error(`loadgen printed no JSON: ${out}`));
      }
    });
  });
}

/** Splits a memcheck text log into its error / leak records. */
function records(log) {
  const lines = log.split('\n').map((l) => l.replace(/^==\d+== ?/, ''));
  const out = [];
  let cur = null;
  for (const line of lines) {
    if (line.trim() === '') {
      if (cur) out.push(cur);
      cur = null;
    } else if (cur) {
      cur.push(line);
    } else {
      cur = [line];
    }
  }
  if (cur) out.push(cur);
  return out;
}

function isOurs(rec) {
  return rec.some((l) => /socketserver\.node|\/native\/[\w-]+\.(cc|h)\b/.test(l));
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    usage('valgrind is not installed');
  }
  const loadgen = ensureLoadgen();
  const outDir = path.join(ROOT, 'build', 'valgrind');
  fs.mkdirSync(outDir, { recursive: true });
  const logFile = path.join(outDir, 'memcheck.log');
  fs.rmSync(logFile, { force: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-valgrind-'));
  const vgArgs = [
    '--tool=memcheck',
    '--error-exitcode=97',
    '--leak-check=full',
    '--show-leak-kinds=definite,indirect',
    '--errors-for-leak-kinds=definite,indirect',
    '--num-callers=40',
    `--suppressions=${path.join(ROOT, 'bench', 'valgrind.supp')}`,
    `--log-file=${logFile}`,
    ...(o.trackOrigins ? ['--track-origins=yes'] : []),
    process.execPath,
    '--jitless',
    __filename,
    '--serve',
    dir,
  ];
  const started = Date.now();
  process.stderr.write(`valgrind.js: valgrind ${vgArgs.join(' ')}\n`);
  const server = spawn('valgrind', vgArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
  const killer = setTimeout(() => server.kill('SIGKILL'), o.timeoutS * 1000);

  let ok = true;
  const results = {};
  try {
    const ready = await waitForLine(server, 'READY', 180_000);
    const where = Object.fromEntries(ready.slice(6).split(' ').map((kv) => kv.split('=')));
    const startupS = (Date.now() - started) / 1000;
    process.stderr.write(`valgrind.js: ${ready} (after ${startupS.toFixed(1)} s)\n`);
    const per = Math.floor(o.requests / 4);
    const common = ['--clients', String(o.clients), '--warmup', '0', '--duration', String(o.timeoutS), '--timeout', '60'];
    const jobs = {
      tcp: ['--tcp', `127.0.0.1:${where.tcp}`, '--mode', 'conn'],
      udp: ['--udp', `127.0.0.1:${where.udp}`, '--mode', 'dgram'],
      unix: ['--unix', where.unix, '--mode', 'keepalive'],
      'unix-dgram': ['--unix-dgram', where['unix-dgram'], '--mode', 'dgram'],
    };
    const t0 = Date.now();
    await Promise.all(
      Object.entries(jobs).map(async ([k, args], i) => {
        const n = i === 0 ? o.requests - per * 3 : per;
        const r = await runLoadgen(loadgen, [...args, ...common, '--max-requests', String(n)]);
        results[k] = { wanted: n, requests: r.requests, errors: r.errors, mismatches: r.mismatches, rps: r.rps };
        if (r.requests !== n || r.errors !== 0 || r.mismatches !== 0) {
          ok = false;
          process.stderr.write(`valgrind.js: ${k}: ${JSON.stringify(r)}\n`);
        }
      }),
    );
    results.seconds = (Date.now() - t0) / 1000;
  } catch (err) {
    ok = false;
    process.stderr.write(`valgrind.js: ${err.message}\n`);
  }
  server.kill('SIGTERM');
  const { code, signal } = await exited;
  clearTimeout(killer);
  fs.rmSync(dir, { recursive: true, force: true });

  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  const pick = (re) => (log.match(re) || [])[0];
  const errorSummary = pick(/ERROR SUMMARY: .*/) || 'ERROR SUMMARY: (none: valgrind did not finish)';
  const leak = {};
  for (const k of ['definitely lost', 'indirectly lost', 'possibly lost', 'still reachable', 'suppressed']) {
    leak[k] = pick(new RegExp(`${k}: .*`)) || `${k}: (not reported)`;
  }
  const ours = { definite: 0, indirect: 0, errors: 0, records: [] };
  for (const rec of records(log)) {
    const head = rec[0];
    const m = head.match(/^([\d,]+) (?:\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks are (definitely|indirectly) lost/);
    if (m && isOurs(rec)) {
      ours[m[2] === 'definitely' ? 'definite' : 'indirect'] += Number(m[1].replace(/,/g, ''));
      ours.records.push(rec.join('\n'));
    } else if (!m && /^(Invalid|Conditional|Use of uninitialised|Syscall param|Mismatched|Source and destination)/.test(head)) {
      if (isOurs(rec)) ours.errors++;
      ours.records.push(rec.join('\n'));
    }
  }

  const total = Object.values(results).reduce((n, r) => n + (typeof r === 'object' ? r.requests : 0), 0);
  console.log(`== valgrind memcheck, node --jitless, ${o.requests} requests (${o.clients} clients per transport)`);
  for (const [k, r] of Object.entries(results)) {
    if (typeof r === 'object') console.log(`${k.padEnd(11)} ${r.requests}/${r.wanted} answered, ${r.errors} errors, ${r.mismatches} mismatches`);
  }
  console.log(`requests    ${total} answered in ${results.seconds ?? '?'} s (under valgrind)`);
  console.log(errorSummary);
  for (const v of Object.values(leak)) console.log(`  ${v}`);
  console.log(`addon (socketserver.node): definitely lost ${ours.definite} bytes, indirectly lost ${ours.indirect} bytes, ${ours.errors} memory errors`);
  for (const r of ours.records) console.log(`---\n${r}`);
  console.log(`valgrind exit: ${code ?? signal} (97 = errors found); log: ${path.relative(ROOT, logFile)}; total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (code !== 0 || ours.definite > 0 || ours.indirect > 0 || ours.errors > 0 || !/ERROR SUMMARY: 0 errors/.test(errorSummary)) ok = false;
  process.exit(ok ? 0 : 1);
}
