// The live client without a browser: frame parsing, the hello and acknowledgements, bad
// messages ignored, and reconnects that back off while the server refuses.
import assert from "node:assert/strict";
import test from "node:test";

import { LiveClient, RETRY_MAX_MS, parseFrame, parseMessage, retryDelay, socketUrl } from "../../web/live/client.js";

function frameMessage(meta, jpeg = [0xff, 0xd8, 0xff]) {
  const text = new TextEncoder().encode(JSON.stringify(meta));
  const bytes = new Uint8Array(8 + text.length + jpeg.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 1);
  view.setUint32(4, text.length);
  bytes.set(text, 8);
  bytes.set(jpeg, 8 + text.length);
  return bytes.buffer;
}

/** A stand-in WebSocket: records what is sent; the test opens, feeds and closes it. */
class FakeSocket extends EventTarget {
  static OPEN = 1;
  static made = [];
  constructor(url) {
    super();
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.made.push(this);
  }
  send(data) { this.sent.push(typeof data === "string" ? JSON.parse(data) : data); }
  open() { this.readyState = 1; this.dispatchEvent(new Event("open")); }
  message(data) { this.dispatchEvent(new MessageEvent("message", { data })); }
  close(code = 1006, reason = "") {
    this.readyState = 3;
    const e = new Event("close");
    Object.assign(e, { code, reason });
    this.dispatchEvent(e);
  }
}

/** Timers the test fires by hand. */
function manualTimers() {
  const waiting = [];
  return { waiting, setTimeout: (f, ms) => { waiting.push({ f, ms }); return waiting.length; }, clearTimeout: () => {} };
}

function client() {
  FakeSocket.made = [];
  const timers = manualTimers();
  const live = new LiveClient(() => "ws://host/api/streamdit/ws", { socketClass: FakeSocket, timers });
  return { live, timers, socket: () => FakeSocket.made[FakeSocket.made.length - 1] };
}

test("a frame message parses into its index, rate, session and JPEG", async () => {
  const frame = parseFrame(frameMessage({ stream_id: "s", index: 7, fps: 16, session: "a" }, [1, 2, 3]));
  assert.equal(frame.stream_id, "s");
  assert.equal(frame.index, 7);
  assert.equal(frame.fps, 16);
  assert.deepEqual([...new Uint8Array(await frame.blob.arrayBuffer())], [1, 2, 3]);
  assert.equal(frame.blob.type, "image/jpeg");
});

test("what is not a frame parses to null, never throws", () => {
  const camera = new Uint8Array(frameMessage({ index: 1, fps: 16 }));
  new DataView(camera.buffer).setUint32(0, 2);
  assert.equal(parseFrame(camera.buffer), null);                                     // another kind
  assert.equal(parseFrame(new ArrayBuffer(3)), null);                                // cut short
  const bad = new Uint8Array(frameMessage({ index: 1, fps: 16 }));
  bad[9] = 0x7b;                                                                     // JSON broken
  assert.equal(parseFrame(bad.buffer), null);
  assert.equal(parseFrame(frameMessage({ index: "1", fps: 16 })), null);             // no integer index
  assert.equal(parseFrame(frameMessage({ index: 1, fps: 0 })), null);                // no rate
  assert.equal(parseMessage("{not json"), null);
  assert.equal(parseMessage("[1, 2]"), null);
  assert.deepEqual(parseMessage('{"type": "status"}'), { type: "status" });
});

test("the websocket URL follows the page's scheme and carries the client id", () => {
  assert.equal(socketUrl("/api/streamdit/ws", "https://h:8188/x/", "abc"), "wss://h:8188/api/streamdit/ws?clientId=abc");
  assert.equal(socketUrl("../../api/streamdit/ws", "http://h/extensions/pack/view.html"), "ws://h/api/streamdit/ws");
});

test("the client echoes the hello, keeps its defaults, asks for its streams and acks four times a window", () => {
  const { live, socket } = client();
  live.watch(["s"], { quality: 70, max_fps: undefined });
  socket().open();
  assert.deepEqual(socket().sent, []);                                               // nothing before the hello
  const hellos = [];
  live.addEventListener("hello", (e) => hellos.push(e.detail));
  socket().message(JSON.stringify({ type: "hello", token: "t", window: 32, defaults: { strength: 0.6, fps: 16 } }));
  assert.deepEqual(socket().sent, [{ hello: "t" }, { watch: ["s"], list: false, quality: 70 }]);
  assert.deepEqual(live.defaults, { strength: 0.6, fps: 16 });
  assert.equal(hellos.length, 1);
  const frames = [];
  live.addEventListener("frame", (e) => frames.push(e.detail.index));
  for (let i = 0; i < 16; i++) socket().message(frameMessage({ stream_id: "s", index: i, fps: 16, session: "a" }));
  assert.deepEqual(frames, [...Array(16).keys()]);
  assert.deepEqual(socket().sent.slice(2), [{ ack: 8 }, { ack: 16 }]);
});

test("bad JSON from the server is ignored and the client goes on", () => {
  const { live, socket } = client();
  socket().open();
  const statuses = [];
  live.addEventListener("status", (e) => statuses.push(e.detail));
  socket().message("{oops");
  socket().message(JSON.stringify({ type: "status", stream_id: "s", running: true }));
  assert.equal(statuses.length, 1);
});

test("a refused or lost connection is said with its reason, and retried later and later up to a limit", () => {
  const { live, timers, socket } = client();
  const said = [];
  live.addEventListener("connection", (e) => said.push(e.detail));
  for (let i = 0; i < 8; i++) {
    socket().close(1008, "too slow");
    timers.waiting.pop().f();   // the retry connects again
  }
  assert.deepEqual(said.map((s) => s.retry), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.ok(said.every((s) => !s.connected && s.reason === "too slow"));
  assert.equal(FakeSocket.made.length, 9);
  socket().open();
  socket().message(JSON.stringify({ type: "hello", token: "t", window: 32 }));
  assert.equal(said[said.length - 1].connected, true);
  socket().close(1006);                                                             // a socket that worked: soon again
  assert.equal(said[said.length - 1].retry, 1000);
  assert.equal(retryDelay(100), RETRY_MAX_MS);
});

test("a closed client connects no more", () => {
  const { live, timers, socket } = client();
  live.close();
  socket().close();
  assert.equal(timers.waiting.length, 0);
});

test("reconnect replaces the socket at once, and the replaced one's end schedules nothing", () => {
  const { live, timers, socket } = client();
  const first = socket();
  first.open();
  live.reconnect();
  assert.equal(FakeSocket.made.length, 2);
  first.close(1000);
  assert.equal(timers.waiting.length, 0);
  assert.equal(live.socket, socket());
});
