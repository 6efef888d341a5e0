#!/usr/bin/env node
'use strict';
// Experiment (issue 10, "the handoff"): how a request gets from the main
// thread to a worker thread. Compares
//
//   post     worker.postMessage({ t, slot, fd, clientAddress }) (what
//            lib/worker-pool.ts does today); with a datagram payload, the
//            payload's ArrayBuffer is transferred (a fresh one per
//            message, as a datagram received into its own buffer would be)
//   post-copy  the same, the payload cloned instead of transferred
//   ring     a SharedArrayBuffer ring of fixed-size records (slot, fd,
//            address, payload copied in), the consumer asleep in
//            Atomics.waitAsync(); the producer calls Atomics.notify() after
//            every record
//   ring-bell  the same ring with a doorbell: the consumer sets a
//            "sleeping" flag before it waits (and clears it once awake),
//            and the producer notifies only when it finds the flag set
//
// for a handoff record alone (~40 bytes: slot, fd, an IPv4 address and
// port) and with a 512-byte and an 8 KiB datagram payload:
//
//   latency     ping-pong: main -> worker -> main, the same mechanism each
//               way; one-way = round trip / 2 (median and p99 over
//               --pings round trips)
//   (ring) waits that timed out (1 s: a lost wake-up) or that a notify
//               ended but that resumed over 100 ms after they began (the
//               thread got no CPU, or the wake-up came late): both should
//               be 0 on a quiet machine
//   throughput  main streams --messages records (bounded by the ring's
//               capacity for the rings: the producer waits for room), the
//               worker reads each (touches the payload), and says when it
//               has them all: messages per second; and the main thread's
//               time spent sending (not waiting), per message: what the
//               handoff costs the thread that accepts
//
//   node bench/handoff-experiment.js [--rounds 3] [--pings 20000]
//        [--messages 200000] [--max-seconds 5] [--only post,ring,...]
//        [--sizes 0,512,8192] [--json FILE]
//
// Bounded: every phase stops at its count or after --max-seconds,
// whichever comes first (the figure then says how many it did). Prints a
// Markdown table of medians over rounds.

const fs = require('node:fs');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const args = require('./args.js');

const usage = args.usageOf('handoff-experiment');

// ---------------------------------------------------------------------------
// The ring: Int32 control words, then RING_SLOTS records of RECORD_BYTES.
// Record: int32 slot, int32 fd, int32 port, int32 payload length, 16 bytes
// of address (IPv4/IPv6 bytes), then the payload.

const RING_SLOTS = 256;
const HEADER_BYTES = 32; // slot, fd, port, length, address[16]
const MAX_PAYLOAD = 8192;
const RECORD_BYTES = HEADER_BYTES + MAX_PAYLOAD;
// control words (Int32 indexes)
const HEAD = 0; // records written (producer)
const TAIL = 1; // records read (consumer)
const SLEEPING = 2; // consumer asleep on HEAD (doorbell variant)
const PRODUCER_SLEEPING = 3; // producer asleep on TAIL (ring full)
const CONTROL_BYTES = 64;

function makeRing() {
  const sab = new SharedArrayBuffer(CONTROL_BYTES + RING_SLOTS * RECORD_BYTES);
  return sab;
}

class Ring {
  constructor(sab, bell) {
    this.ctrl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.bytes = new Uint8Array(sab, CONTROL_BYTES);
    this.words = new Int32Array(sab, CONTROL_BYTES);
    this.bell = bell;
    /** Waits that ended by their 1 s timeout, not a notify: lost wake-ups, if any. */
    this.timeouts = 0;
    /** Waits that a notify ended but that resumed more than 100 ms after it began. */
    this.slowWakes = 0;
  }

  async #wait(index, value) {
    const r = Atomics.waitAsync(this.ctrl, index, value, 1000);
    if (!r.async) return;
    const t0 = process.hrtime.bigint();
    const v = await r.value;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (v === 'timed-out') this.timeouts++;
    else if (ms > 100) this.slowWakes++; // notified, but woken late
  }

  /** Producer: room for one more record? */
  hasRoom() {
    return Atomics.load(this.ctrl, HEAD) - Atomics.load(this.ctrl, TAIL) < RING_SLOTS;
  }

  /** Producer: waits (asynchronously) until there is room. */
  async waitRoom() {
    while (!this.hasRoom()) {
      Atomics.store(this.ctrl, PRODUCER_SLEEPING, 1);
      const tail = Atomics.load(this.ctrl, TAIL);
      if (this.hasRoom()) break;
      await this.#wait(TAIL, tail);
    }
    Atomics.store(this.ctrl, PRODUCER_SLEEPING, 0);
  }

  /** Producer: writes one record (call when hasRoom()), then wakes the consumer. */
  push(slot, fd, addr, port, payload) {
    const head = Atomics.load(this.ctrl, HEAD);
    const i = head % RING_SLOTS;
    const w = (i * RECORD_BYTES) >> 2;
    this.words[w] = slot;
    this.words[w + 1] = fd;
    this.words[w + 2] = port;
    const len = payload ? payload.length : 0;
    this.words[w + 3] = len;
    const base = i * RECORD_BYTES;
    this.bytes.set(addr, base + 16);
    if (len) this.bytes.set(payload, base + HEADER_BYTES);
    Atomics.store(this.ctrl, HEAD, head + 1);
    // (Only the consumer clears SLEEPING, once awake. A producer that
    // cleared it with Atomics.exchange could take the flag for a record the
    // consumer had already read, just before the consumer slept: the next
    // record would then find it clear and not notify, a lost wake-up. That
    // happened in the first version of this script: 1 s stalls.)
    if (!this.bell || Atomics.load(this.ctrl, SLEEPING) === 1) Atomics.notify(this.ctrl, HEAD);
  }

  /**
   * Consumer: calls fn(slot, fd, port, payloadView) for each record there
   * is, then frees them; resolves once it has read at least one (waiting in
   * Atomics.waitAsync while the ring is empty). Returns how many it read.
   */
  async drain(fn) {
    for (;;) {
      let tail = Atomics.load(this.ctrl, TAIL);
      let head = Atomics.load(this.ctrl, HEAD);
      if (head === tail) {
        if (this.bell) {
          Atomics.store(this.ctrl, SLEEPING, 1);
          head = Atomics.load(this.ctrl, HEAD);
          if (head !== tail) {
            Atomics.store(this.ctrl, SLEEPING, 0);
          } else {
            await this.#wait(HEAD, tail);
            Atomics.store(this.ctrl, SLEEPING, 0);
            continue;
          }
        } else {
          await this.#wait(HEAD, tail);
          continue;
        }
      }
      const n = head - tail;
      for (; tail !== head; tail++) {
        const i = tail % RING_SLOTS;
        const w = (i * RECORD_BYTES) >> 2;
        const len = this.words[w + 3];
        const base = i * RECORD_BYTES;
        fn(this.words[w], this.words[w + 1], this.words[w + 2], len ? this.bytes.subarray(base + HEADER_BYTES, base + HEADER_BYTES + len) : null);
      }
      Atomics.store(this.ctrl, TAIL, head);
      if (Atomics.load(this.ctrl, PRODUCER_SLEEPING) === 1) Atomics.notify(this.ctrl, TAIL);
      return n;
    }
  }
}

// ---------------------------------------------------------------------------
// worker side

let touched = 0;
/** What a handler would do first with a payload: look at it (one byte per 64). */
function touch(view) {
  if (!view) return;
  for (let i = 0; i < view.length; i += 64) touched = (touched + view[i]) | 0;
}

async function workerMain() {
  const { method, toWorker, toMain } = workerData;
  const inRing = toWorker ? new Ring(toWorker, method === 'ring-bell') : null;
  const outRing = toMain ? new Ring(toMain, method === 'ring-bell') : null;
  const addr = new Uint8Array(16);
  if (method.startsWith('post')) {
    let phase = null;
    let got = 0;
    let want = 0;
    parentPort.on('message', (m) => {
      if (m.t === 'ping') {
        touch(m.payload ? new Uint8Array(m.payload.buffer || m.payload) : null);
        parentPort.postMessage({ t: 'pong', slot: m.slot, fd: m.fd, clientAddress: m.clientAddress });
      } else if (m.t === 'stream') {
        phase = 'stream';
        want = m.count;
        got = 0;
      } else if (m.t === 'req') {
        touch(m.payload ? new Uint8Array(m.payload.buffer || m.payload) : null);
        if (phase === 'stream' && ++got === want) parentPort.postMessage({ t: 'got', n: got });
      } else if (m.t === 'exit') {
        process.exit(0);
      }
    });
    parentPort.postMessage({ t: 'ready' });
    return;
  }
  // rings: records by the ring, in order with them a control record (slot
  // -1: stream `fd` records from now on); 'exit' by postMessage
  let mode = 'ping';
  let want = 0;
  let got = 0;
  parentPort.on('message', (m) => {
    if (m.t === 'exit') process.exit(0);
  });
  parentPort.postMessage({ t: 'ready' });
  for (;;) {
    await inRing.drain((slot, fd, port, payload) => {
      if (slot === -1) {
        mode = 'stream';
        want = fd;
        got = 0;
        return;
      }
      touch(payload);
      if (mode === 'ping') {
        // the reply: a record without payload (an ack, as post's 'pong')
        if (!outRing.hasRoom()) throw new Error('reply ring full in ping-pong');
        outRing.push(slot, fd, addr, port, null);
      } else if (++got === want) {
        parentPort.postMessage({ t: 'got', n: got, timeouts: inRing.timeouts, slowWakes: inRing.slowWakes });
      }
    });
  }
}

// ---------------------------------------------------------------------------
// main side

function parseOptions() {
  const values = args.parseOptions(
    process.argv.slice(2),
    {
      rounds: { type: 'string', default: '3' },
      pings: { type: 'string', default: '20000' },
      messages: { type: 'string', default: '200000' },
      'max-seconds': { type: 'string', default: '5' },
      only: { type: 'string', default: 'post,post-copy,ring,ring-bell' },
      sizes: { type: 'string', default: '0,512,8192' },
      json: { type: 'string' },
    },
    usage,
  );
  // `v` is the option's value, or one item of a list (--sizes).
  const int = (v, name, min, max) => args.numberOption({ [name]: v }, name, { min, max, integer: true }, usage);
  const methods = values.only.split(',').filter(Boolean);
  for (const m of methods) {
    if (!['post', 'post-copy', 'ring', 'ring-bell'].includes(m)) usage(`unknown method ${m}`);
  }
  return {
    rounds: int(values.rounds, 'rounds', 1, 100),
    pings: int(values.pings, 'pings', 1, 10_000_000),
    messages: int(values.messages, 'messages', 1, 100_000_000),
    maxSeconds: Number(values['max-seconds']) > 0 ? Number(values['max-seconds']) : 5,
    methods,
    sizes: values.sizes.split(',').map((x) => int(x, 'sizes', 0, MAX_PAYLOAD)),
    json: values.json ?? null,
  };
}

const CLIENT_ADDRESS = ['127.0.0.1', 54321];
const ADDR_BYTES = new Uint8Array([127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

function startWorker(method) {
  const data = { method };
  if (method.startsWith('ring')) {
    data.toWorker = makeRing();
    data.toMain = makeRing();
  }
  const worker = new Worker(__filename, { workerData: data });
  const ready = new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (m.t === 'ready') {
        worker.off('message', onMsg);
        resolve();
      }
    };
    worker.on('message', onMsg);
    worker.once('error', reject);
  });
  return { worker, data, ready };
}

function payloadOf(size) {
  if (!size) return null;
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i += 64) b[i] = i & 0xff;
  return b;
}

/** A post message: the handoff record, plus a payload (transferred or cloned). */
function postOne(worker, t, slot, size, template, transfer) {
  if (!size) {
    worker.postMessage({ t, slot, fd: 100 + slot, clientAddress: CLIENT_ADDRESS });
    return;
  }
  // A fresh buffer per message, as a datagram read into its own buffer.
  const buf = new ArrayBuffer(size);
  new Uint8Array(buf).set(template);
  if (transfer) worker.postMessage({ t, slot, fd: 100 + slot, clientAddress: CLIENT_ADDRESS, payload: buf }, [buf]);
  else worker.postMessage({ t, slot, fd: 100 + slot, clientAddress: CLIENT_ADDRESS, payload: buf });
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function pingPong(method, w, size, opts) {
  const template = payloadOf(size);
  const rtts = [];
  let pingTimeouts = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(opts.maxSeconds * 1e9));
  if (method.startsWith('post')) {
    const transfer = method === 'post';
    let resolveOne = null;
    const onMsg = (m) => {
      if (m.t === 'pong' && resolveOne) resolveOne();
    };
    w.worker.on('message', onMsg);
    for (let i = 0; i < opts.pings && process.hrtime.bigint() < deadline; i++) {
      const t0 = process.hrtime.bigint();
      const got = new Promise((r) => (resolveOne = r));
      postOne(w.worker, 'ping', i, size, template, transfer);
      await got;
      rtts.push(Number(process.hrtime.bigint() - t0));
    }
    w.worker.off('message', onMsg);
  } else {
    const bell = method === 'ring-bell';
    const out = new Ring(w.data.toWorker, bell);
    const back = new Ring(w.data.toMain, bell);
    for (let i = 0; i < opts.pings && process.hrtime.bigint() < deadline; i++) {
      const t0 = process.hrtime.bigint();
      out.push(i, 100 + i, ADDR_BYTES, 54321, template);
      let n = 0;
      while (n === 0) n = await back.drain(touch);
      rtts.push(Number(process.hrtime.bigint() - t0));
    }
    pingTimeouts = back.timeouts;
  }
  rtts.sort((a, b) => a - b);
  return { pings: rtts.length, one_way_p50_us: pct(rtts, 50) / 2000, one_way_p99_us: pct(rtts, 99) / 2000, rtt_p50_us: pct(rtts, 50) / 1000, ping_wait_timeouts: pingTimeouts };
}

async function stream(method, w, size, opts) {
  const template = payloadOf(size);
  let count = size >= 8192 ? Math.min(opts.messages, 50000) : opts.messages;
  const deadlineMs = opts.maxSeconds * 1000;
  // Tell the worker how many to expect (in order with the records); wait for its "got".
  const ring = method.startsWith('ring') ? new Ring(w.data.toWorker, method === 'ring-bell') : null;
  const startStream = async (n) => {
    if (!ring) {
      w.worker.postMessage({ t: 'stream', count: n });
      return;
    }
    if (!ring.hasRoom()) await ring.waitRoom();
    ring.push(-1, n, ADDR_BYTES, 0, null);
  };
  const gotAll = () => new Promise((resolve) => {
    const onMsg = (m) => {
      if (m.t === 'got') {
        w.worker.off('message', onMsg);
        if (m.timeouts) workerTimeouts = m.timeouts;
        if (m.slowWakes) workerSlowWakes = m.slowWakes;
        resolve(m.n);
      }
    };
    w.worker.on('message', onMsg);
  });
  // A calibration pass (1/20 of the count, at least 1000) sets the count that fits in the time bound.
  const run = async (n) => {
    const done = gotAll();
    await startStream(n);
    const t0 = process.hrtime.bigint();
    let busy = 0n; // the main thread's time in the sending code (not waiting)
    if (method.startsWith('post')) {
      const transfer = method === 'post';
      // in batches, yielding between them, so the worker runs meanwhile
      for (let i = 0; i < n; ) {
        const b0 = process.hrtime.bigint();
        const end = Math.min(n, i + 256);
        for (; i < end; i++) postOne(w.worker, 'req', i, size, template, transfer);
        busy += process.hrtime.bigint() - b0;
        if (i < n) await new Promise((r) => setImmediate(r));
      }
    } else {
      let b0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        if (!ring.hasRoom()) {
          busy += process.hrtime.bigint() - b0;
          await ring.waitRoom();
          b0 = process.hrtime.bigint();
        }
        ring.push(i, 100 + i, ADDR_BYTES, 54321, template);
      }
      busy += process.hrtime.bigint() - b0;
    }
    lastBusyNs = Number(busy);
    const timeout = new Promise((r) => setTimeout(() => r(-1), deadlineMs * 3).unref());
    const got = await Promise.race([done, timeout]);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (got !== n) throw new Error(`${method}: the worker did not report ${n} messages within ${deadlineMs * 3} ms`);
    return s;
  };
  let lastBusyNs = 0;
  let workerTimeouts = 0;
  let workerSlowWakes = 0;
  const calib = Math.max(1000, Math.floor(count / 20));
  const cs = await run(calib);
  const fit = Math.floor((calib / cs) * opts.maxSeconds * 0.8);
  count = Math.max(calib, Math.min(count, fit));
  const s = await run(count);
  // 1 s waits that ended by timeout (a lost wake-up, saved by the timeout): should be 0
  const lost = workerTimeouts + (ring ? ring.timeouts : 0);
  return { messages: count, seconds: +s.toFixed(3), msgs_per_s: count / s, sender_us_per_msg: lastBusyNs / count / 1000, wait_timeouts: lost, slow_wakes: workerSlowWakes + (ring ? ring.slowWakes : 0) };
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

async function mainThread() {
  const opts = parseOptions();
  const results = [];
  const t0 = Date.now();
  for (let round = 1; round <= opts.rounds; round++) {
    for (const size of opts.sizes) {
      for (const method of opts.methods) {
        if (method === 'post-copy' && size === 0) continue; // nothing to copy: the same as post
        const w = startWorker(method);
        await w.ready;
        const pp = await pingPong(method, w, size, opts);
        const st = await stream(method, w, size, opts);
        w.worker.postMessage({ t: 'exit' });
        await new Promise((r) => w.worker.once('exit', r));
        const rec = { round, method, size, ...pp, ...st };
        results.push(rec);
        process.stderr.write(`handoff: round ${round} ${method} payload ${size}: one-way p50 ${pp.one_way_p50_us.toFixed(1)} us, p99 ${pp.one_way_p99_us.toFixed(1)} us; ${Math.round(st.msgs_per_s).toLocaleString('en-US')} msgs/s, sending ${st.sender_us_per_msg.toFixed(2)} us/msg${st.wait_timeouts ? `, ${st.wait_timeouts} WAITS TIMED OUT` : ''}${st.slow_wakes ? `, ${st.slow_wakes} woken late` : ''}\n`);
      }
    }
  }
  const rows = [];
  for (const size of opts.sizes) {
    for (const method of opts.methods) {
      const rs = results.filter((r) => r.size === size && r.method === method);
      if (!rs.length) continue;
      rows.push({
        size, method,
        one_way_p50_us: median(rs.map((r) => r.one_way_p50_us)),
        one_way_p99_us: median(rs.map((r) => r.one_way_p99_us)),
        msgs_per_s: median(rs.map((r) => r.msgs_per_s)),
        sender_us_per_msg: median(rs.map((r) => r.sender_us_per_msg)),
        wait_timeouts: rs.reduce((a, r) => a + (r.wait_timeouts || 0), 0),
        slow_wakes: rs.reduce((a, r) => a + (r.slow_wakes || 0), 0),
        rounds: rs.length,
      });
    }
  }
  const sizeText = (s) => (s === 0 ? 'record only (~40 B)' : `+ ${s} B payload`);
  const lines = [
    `| message | method | one-way latency p50 µs | p99 µs | throughput msgs/s | vs post | main thread µs/msg (sending) | ring waits: timed out / woken > 100 ms late |`,
    '|---|---|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    const base = rows.find((x) => x.size === r.size && x.method === 'post');
    lines.push(`| ${sizeText(r.size)} | ${r.method} | ${r.one_way_p50_us.toFixed(1)} | ${r.one_way_p99_us.toFixed(1)} | ${Math.round(r.msgs_per_s).toLocaleString('en-US')} | ${base ? `${(r.msgs_per_s / base.msgs_per_s).toFixed(2)}×` : '—'} | ${r.sender_us_per_msg.toFixed(2)} | ${r.method.startsWith('ring') ? `${r.wait_timeouts} / ${r.slow_wakes}` : '—'} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n\nmedians of ${opts.rounds} round(s); node ${process.version}; took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify({ options: opts, node: process.version, results, rows }, null, 2)}\n`);
}

if (isMainThread) {
  mainThread().catch((err) => {
    process.stderr.write(`handoff-experiment: ${err.stack || err}\n`);
    process.exit(1);
  });
} else {
  workerMain().catch((err) => {
    process.nextTick(() => {
      throw err;
    });
  });
}
