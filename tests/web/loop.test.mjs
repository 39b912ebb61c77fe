// The display loop runs while its view is visible and stops by itself when it is not.
import assert from "node:assert/strict";
import test from "node:test";

import { RenderLoop } from "../../web/live/loop.js";

function frames() {
  const queued = [];
  return { queued, requestAnimationFrame: (f) => queued.push(f), run(now) { queued.splice(0).forEach((f) => f(now)); } };
}

test("it ticks while visible, stops when hidden and starts again when shown", () => {
  const raf = frames();
  let visible = true;
  const ticks = [];
  const loop = new RenderLoop((now) => ticks.push(now), () => visible, { frames: raf });
  loop.start();
  loop.start();                                      // once only
  raf.run(1);
  raf.run(2);
  assert.deepEqual(ticks, [1, 2]);
  visible = false;
  raf.run(3);
  assert.equal(loop.running, false);
  assert.equal(raf.queued.length, 0);                // nothing scheduled while hidden
  loop.start();
  assert.equal(raf.queued.length, 0);                // still hidden: does not start
  visible = true;
  loop.start();
  raf.run(4);
  assert.deepEqual(ticks, [1, 2, 4]);
});

test("a stopped loop ticks no more", () => {
  const raf = frames();
  const ticks = [];
  const loop = new RenderLoop((now) => ticks.push(now), () => true, { frames: raf });
  loop.start();
  loop.stop();
  raf.run(1);
  assert.deepEqual(ticks, []);
});
