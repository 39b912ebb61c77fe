// The browser's end of the pack's live websocket (nodes/live/hub.py): binary frames of the
// streams it watches, JSON statuses and the list of streams; reconnects when dropped.

const FRAME = 1;
const CAMERA = 2;

/** A binary frame message -> {stream_id, index, fps, session, meta, blob}. */
export function parseFrame(buffer) {
  const view = new DataView(buffer);
  if (view.getUint32(0) !== FRAME) return null;
  const length = view.getUint32(4);
  const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
  const blob = new Blob([new Uint8Array(buffer, 8 + length)], { type: "image/jpeg" });
  return { stream_id: meta.stream_id, index: meta.index, fps: meta.fps, session: meta.session, meta, blob };
}

export class LiveClient extends EventTarget {
  /** url(): the websocket URL (read at every connect, so a client id known later is used). */
  constructor(url) {
    super();
    this.url = url;
    this.watching = [];
    this.options = { quality: 85, max_fps: 60, list: false };
    this.streams = {};
    this.socket = null;
    this.closed = false;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const socket = new WebSocket(this.url());
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", () => {
      this.received = 0;   // frames received on this connection
      this.ackEvery = 1;   // until the server's hello says its window
      this.sendRequest();
    });
    socket.addEventListener("message", (e) => this.receive(e.data));
    socket.addEventListener("close", () => {
      this.socket = null;
      this.emit("connection", { connected: false });
      setTimeout(() => this.connect(), 1000);
    });
    this.socket = socket;
    socket.addEventListener("open", () => this.emit("connection", { connected: true }));
  }

  receive(data) {
    if (data instanceof ArrayBuffer) {
      const frame = parseFrame(data);
      this.received += 1;
      // the server sends at most its window of frames beyond the last acknowledged: ack four times a window
      if (this.received % this.ackEvery === 0) this.send({ ack: this.received });
      if (frame) this.emit("frame", frame);
      return;
    }
    const message = JSON.parse(data);
    if (message.type === "hello") {
      this.ackEvery = Math.max(1, Math.floor(message.window / 4));
      this.send({ hello: message.token });   // frames come once the server knows this end reads
    } else if (message.type === "streams") {
      this.streams = message.streams;
      this.emit("streams", message.streams);
    } else if (message.type === "status") {
      this.emit("status", message);
    } else if (message.type === "camera") {
      this.emit("camera", message);
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Watch these stream ids (and no others); options: {quality, max_fps}. */
  watch(ids, options = {}) {
    this.watching = [...ids];
    Object.assign(this.options, options);
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

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** One camera frame (JPEG bytes) into a stream: header {strength, stamp}; false when not connected. */
  sendCamera(streamId, header, jpeg) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
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
    this.socket?.close();
  }
}
