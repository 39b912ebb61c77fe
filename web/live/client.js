// The browser's end of the pack's live websocket (nodes/live/hub.py): binary frames of the
// streams it watches, JSON statuses and the list of streams. The server's hello carries the
// defaults the browser starts from (`defaults`). A dropped socket reconnects, sooner after
// one that worked, later and later (up to RETRY_MAX_MS) while the server refuses or is away:
// each failure is a "connection" event with the reason where the server gave one.

const FRAME = 1;
const CAMERA = 2;
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 30000;

/** A binary frame message -> {stream_id, index, fps, session, meta, blob}; null when it is not one. */
export function parseFrame(buffer) {
  try {
    const view = new DataView(buffer);
    if (buffer.byteLength < 8 || view.getUint32(0) !== FRAME) return null;
    const length = view.getUint32(4);
    const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
    if (!meta || typeof meta !== "object" || !Number.isInteger(meta.index) || !(meta.fps > 0)) return null;
    const blob = new Blob([new Uint8Array(buffer, 8 + length)], { type: "image/jpeg" });
    return { stream_id: meta.stream_id, index: meta.index, fps: meta.fps, session: meta.session, meta, blob };
  } catch {
    return null;   // cut short, or not JSON: not a frame
  }
}

/** A JSON text message -> its object; null when it is not a JSON object. */
export function parseMessage(text) {
  try {
    const message = JSON.parse(text);
    return message && typeof message === "object" && !Array.isArray(message) ? message : null;
  } catch {
    return null;
  }
}

/** The pack's websocket URL for a page at `pageUrl` whose API lives at `apiUrl` (absolute or
 * relative to the page), with ComfyUI's client id when there is one. */
export function socketUrl(apiUrl, pageUrl, clientId) {
  const url = new URL(apiUrl, pageUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (clientId) url.searchParams.set("clientId", clientId);
  return url.toString();
}

/** Milliseconds before the next connect after `failures` connects in a row that never got a hello. */
export function retryDelay(failures) {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.max(0, failures - 1));
}

export class LiveClient extends EventTarget {
  /** url(): the websocket URL (read at every connect, so a client id known later is used);
   * socketClass: the WebSocket class (a stand-in in unit tests). */
  constructor(url, { socketClass = globalThis.WebSocket, timers = globalThis } = {}) {
    super();
    this.url = url;
    this.socketClass = socketClass;
    this.timers = timers;
    this.watching = [];
    this.options = { list: false };   // quality and max_fps: the server's defaults unless set
    this.streams = {};
    this.defaults = null;   // the server's, from its hello
    this.socket = null;
    this.closed = false;
    this.failures = 0;      // connects in a row that never got a hello
    this.retryTimer = null;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    this.retryTimer = null;
    const socket = new this.socketClass(this.url());
    socket.binaryType = "arraybuffer";
    let greeted = false;
    socket.addEventListener("open", () => {
      this.received = 0;   // frames received on this connection
      this.ackEvery = 1;   // until the server's hello says its window
    });
    socket.addEventListener("message", (e) => {
      if (this.receive(e.data) === "hello") {
        greeted = true;
        this.failures = 0;
        this.sendRequest();
        this.emit("connection", { connected: true });
      }
    });
    socket.addEventListener("close", (e) => {
      if (this.socket !== socket) return;   // replaced (``reconnect``): its end says nothing
      this.socket = null;
      if (!greeted) this.failures += 1;
      const retry = this.closed ? null : retryDelay(Math.max(1, this.failures));
      this.emit("connection", { connected: false, code: e.code, reason: e.reason || "", retry, failures: this.failures });
      if (retry !== null) this.retryTimer = this.timers.setTimeout(() => this.connect(), retry);
    });
    this.socket = socket;
  }

  /** Connect again now, with the URL as it is now (ComfyUI's client id, known later than the page). */
  reconnect() {
    if (this.closed) return;
    this.timers.clearTimeout(this.retryTimer);
    const old = this.socket;
    this.socket = null;
    old?.close();
    this.connect();
  }

  /** One message from the server; returns its type ("frame", "hello", ...) or null when ignored. */
  receive(data) {
    if (data instanceof ArrayBuffer) {
      this.received += 1;
      // the server sends at most its window of frames beyond the last acknowledged: ack four times a window
      if (this.received % this.ackEvery === 0) this.send({ ack: this.received });
      const frame = parseFrame(data);
      if (frame) this.emit("frame", frame);
      return frame ? "frame" : null;
    }
    const message = parseMessage(data);
    if (message === null) return null;
    if (message.type === "hello") {
      this.ackEvery = Math.max(1, Math.floor(message.window / 4));
      this.defaults = message.defaults ?? null;
      this.send({ hello: message.token });   // frames come once the server knows this end reads
      this.emit("hello", message);
    } else if (message.type === "streams") {
      this.streams = message.streams;
      this.emit("streams", message.streams);
    } else if (message.type === "status") {
      this.emit("status", message);
    } else if (message.type === "camera") {
      this.emit("camera", message);
    } else {
      return null;
    }
    return message.type;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Watch these stream ids (and no others); options: {quality, max_fps} (left out: the server's defaults). */
  watch(ids, options = {}) {
    this.watching = [...ids];
    for (const [name, value] of Object.entries(options)) if (value !== undefined && value !== null) this.options[name] = value;
    this.sendRequest();
  }

  /** Ask for the list of streams (a "streams" event now and whenever a run starts or ends), or stop. */
  listStreams(on = true) {
    this.options.list = on;
    this.sendRequest();
  }

  sendRequest() {
    this.send({ watch: this.watching, ...this.options });
  }

  get open() {
    return this.socket?.readyState === this.socketClass.OPEN;
  }

  send(message) {
    if (this.open) this.socket.send(JSON.stringify(message));
  }

  /** One camera frame (JPEG bytes) into a stream: header {strength, stamp}; false when not connected. */
  sendCamera(streamId, header, jpeg) {
    if (!this.open) return false;
    const meta = new TextEncoder().encode(JSON.stringify({ stream_id: streamId, ...header }));
    const message = new Uint8Array(8 + meta.length + jpeg.byteLength);
    const view = new DataView(message.buffer);
    view.setUint32(0, CAMERA);
    view.setUint32(4, meta.length);
    message.set(meta, 8);
    message.set(new Uint8Array(jpeg), 8 + meta.length);
    this.socket.send(message.buffer);
    return true;
  }

  cameraOff(streamId) {
    this.send({ camera_off: streamId });
  }

  close() {
    this.closed = true;
    this.timers.clearTimeout(this.retryTimer);
    this.socket?.close();
  }
}
