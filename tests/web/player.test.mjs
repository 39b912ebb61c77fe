// The frame player without a browser: frames on a steady clock at the stream's rate, late
// ones waited for, a flood jumped over, and every decoded bitmap closed.
import assert from "node:assert/strict";
import test from "node:test";

import { FramePlayer } from "../../web/live/player.js";

class Bitmap {
  static open = 0;
  constructor() { Bitmap.open += 1; this.closed = false; }
  close() { if (!this.closed) { this.closed = true; Bitmap.open -= 1; } }
}

function frame(index, session = "a", fps = 10) {
  return { stream_id: "s", index, fps, session, meta: {}, blob: {} };
}

async function settle() {
  await new Promise((resolve) => setImmediate(resolve));
}

function player(options = {}) {
  Bitmap.open = 0;
  const drawn = [];
  const p = new FramePlayer((bitmap, f) => drawn.push(f.index), { latency: 100, decode: async () => new Bitmap(), ...options });
  return { p, drawn };
}

test("frames play at the stream's rate after the jitter buffer", async () => {
  const { p, drawn } = player();
  for (let i = 0; i < 5; i++) p.push(frame(i), 0);
  await settle();
  p.tick(99);
  assert.deepEqual(drawn, []);                       // the buffer: 100 ms
  for (const t of [100, 200, 300, 400]) p.tick(t);   // 10 fps: one frame per 100 ms
  assert.deepEqual(drawn, [0, 1, 2, 3]);
  assert.equal(p.stats.dropped, 0);
  assert.equal(p.fps, 10);
});

test("a late frame moves the clock back instead of being dropped", async () => {
  const { p, drawn } = player();
  p.push(frame(0), 0);
  await settle();
  p.tick(100);
  p.push(frame(1), 1000);                             // due at 200, came at 1000
  await settle();
  p.tick(1050);
  assert.deepEqual(drawn, [0]);
  p.tick(1100);
  assert.deepEqual(drawn, [0, 1]);
  assert.equal(p.stats.late, 1);
});

test("a display slower than the stream drops the frames it passes over, and closes them", async () => {
  const { p, drawn } = player();
  for (let i = 0; i < 6; i++) p.push(frame(i), 0);
  await settle();
  p.tick(600);                                       // frames 0..5 all due: the newest is shown
  assert.deepEqual(drawn, [5]);
  assert.equal(p.stats.dropped, 5);
  assert.equal(Bitmap.open, 1);                      // only the one on screen
});

test("a new session resets the player and closes every bitmap it held", async () => {
  const { p } = player();
  for (let i = 0; i < 4; i++) p.push(frame(i), 0);
  await settle();
  p.tick(100);
  assert.equal(Bitmap.open, 4);
  p.push(frame(0, "b"), 200);                        // another stream (or a restart)
  await settle();
  assert.equal(Bitmap.open, 1);                      // only the new frame's
  assert.equal(p.queue.length, 1);
});

test("a decode that finishes after its frame was passed over closes its bitmap", async () => {
  let finish;
  const { p } = player({ decode: () => new Promise((resolve) => { finish = () => resolve(new Bitmap()); }) });
  p.push(frame(0), 0);
  p.reset();
  finish();
  await settle();
  assert.equal(Bitmap.open, 0);
});

test("stale and repeated frames are ignored; history keeps the last seconds", async () => {
  const { p } = player({ historySeconds: 3 });
  for (let i = 0; i < 50; i++) {
    p.push(frame(i), i * 100);
    p.push(frame(i), i * 100);                       // repeated
    await settle();
    p.tick(i * 100 + 100);
  }
  assert.equal(p.stats.shown, 50);
  assert.equal(p.kept().length, 31);                 // 30 in history (at least 30) and the one on screen
  assert.deepEqual(p.readout(5000).frame, 49);
});

/** A display's ticks, every 10 ms from `from` (exclusive) to `to`. */
function displayTicks(p, from, to) {
  for (let t = from + 10; t <= to; t += 10) p.tick(t);
}

test("a buffer left long by a stall the stream made up for shrinks back, nothing dropped", async () => {
  const { p, drawn } = player();                       // latency 100 ms, 10 fps
  p.push(frame(0), 0);
  for (let i = 1; i < 8; i++) p.push(frame(i), 0);   // a burst after a stall: the later ones wait long
  let now = 0;
  const waited = [];
  for (let i = 8; i < 200; i++) {                    // then on time: one frame per 100 ms, arriving 700 ms ahead
    now = (i - 7) * 100;
    p.push(frame(i), now);
    waited.push(p.due(i) - now);
    await settle();
    displayTicks(p, now - 100, now);
  }
  assert.ok(waited[0] > 700, `it waited ${waited[0]} ms at first`);
  assert.ok(waited.at(-1) <= 100 + 100, `still ${waited.at(-1)} ms after 19 s`);   // back within a frame of the target
  assert.ok(Math.min(...waited) >= 100, "never below the jitter buffer");
  assert.equal(p.stats.dropped, 0);
  assert.deepEqual(drawn, [...drawn].sort((a, b) => a - b));
});

test("bursts of a chunk at a time are not a long buffer: the clock stays", async () => {
  const { p } = player();                              // 8 frames every 800 ms at 10 fps (a Wan chunk)
  for (let chunk = 0; chunk < 12; chunk++) {
    const now = chunk * 800;
    for (let k = 0; k < 8; k++) p.push(frame(chunk * 8 + k), now);
    await settle();
    displayTicks(p, now, now + 800);
  }
  assert.equal(p.base, 100);                           // first frame's arrival + latency: never moved
  assert.equal(p.stats.dropped, 0);
});
