// The panel's camera: frames from getUserMedia, drawn at the stream's size and sent to the
// server at a set rate as binary camera messages (nodes/live/hub.py), where the running stream
// takes the newest as its input (video-to-video). Stopping it turns the stream back to
// text-to-video from its next step, without a reset. The panel and the viewer page both
// turn it on and off through `toggle`, which says what happened in words.

export const CAMERA_MAX_FPS = 30;
export const NEEDS_A_SECURE_PAGE = "the camera needs a secure page: open ComfyUI at https://… or on this machine " +
                                   "(localhost); browsers give no camera to plain http from another machine";

export class Camera {
  /** client: the LiveClient; video: the <video> element that shows the camera. */
  constructor(client, video) {
    this.client = client;
    this.video = video;
    this.stream = null;       // the MediaStream while on
    this.streamId = null;
    this.timer = null;
    this.canvas = document.createElement("canvas");
    this.sent = 0;
    this.busy = false;
  }

  get on() {
    return this.stream !== null;
  }

  /** Start sending to streamId: {fps, width, height, strength: () -> number, quality}. Throws
   * (with the browser's reason) when no camera can be opened. */
  async start(streamId, { fps, width, height, strength, quality = 0.85 }) {
    this.stop();
    if (!globalThis.isSecureContext || !navigator.mediaDevices?.getUserMedia) throw new Error(NEEDS_A_SECURE_PAGE);
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: width }, height: { ideal: height } },
                                                              audio: false });
    this.streamId = streamId;
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => {});
    this.canvas.width = width;
    this.canvas.height = height;
    this.timer = setInterval(() => this.capture(strength(), quality), 1000 / fps);
  }

  /** One frame: the camera image cropped to the stream's aspect ratio, scaled to its size. */
  capture(strength, quality) {
    const v = this.video;
    if (this.busy || !v.videoWidth || this.streamId === null) return;
    const { width, height } = this.canvas;
    const scale = Math.min(v.videoWidth / width, v.videoHeight / height);
    const w = width * scale;
    const h = height * scale;
    this.canvas.getContext("2d").drawImage(v, (v.videoWidth - w) / 2, (v.videoHeight - h) / 2, w, h, 0, 0, width, height);
    const stamp = Date.now();
    const streamId = this.streamId;
    this.busy = true;
    this.canvas.toBlob(async (blob) => {
      this.busy = false;
      const jpeg = blob ? await blob.arrayBuffer() : null;
      // asked after the await: a frame that resolves once the camera is stopped is not sent (it would
      // reach the server after the camera's off and turn it back on)
      if (jpeg && this.streamId === streamId && this.client.sendCamera(streamId, { strength, stamp }, jpeg)) {
        this.sent += 1;
      }
    }, "image/jpeg", quality);
  }

  /** On (sending to streamId at the stream's rate, at most CAMERA_MAX_FPS, drawn at width x
   * height) or off: {text, warn} saying what happened. */
  async toggle(streamId, { streamFps, width, height, strength }) {
    if (this.on) {
      this.stop();
      return { text: "camera off: the stream follows its prompt alone from its next step", warn: false };
    }
    const fps = Math.min(CAMERA_MAX_FPS, streamFps);
    try {
      await this.start(streamId, { fps, width, height, strength });
      return { text: `camera on: ${width}x${height} at ${fps} fps into the stream`, warn: false };
    } catch (error) {
      this.stop();
      return { text: `no camera: ${error.message || error.name}`, warn: true };
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
      this.client.cameraOff(this.streamId);
    }
    this.stream = null;
    this.streamId = null;
    this.video.srcObject = null;
    this.sent = 0;
  }
}
