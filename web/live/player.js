// Plays one stream's frames at the stream's own frame rate on a steady clock.
//
// Frames arrive with their index in the stream and the stream's fps. Frame n is due at
// base + (n - n0) / fps; base starts `latency` ms after the first arrival (the jitter
// buffer). A frame that arrives after its slot moves the clock back (the stream was slow:
// nothing is dropped, latency stays `latency`); when frames wait longer than `latency` plus
// `slack` (at least two of the largest bursts the stream sends at once: a chunk leaves the
// buffer whole, 8 video frames for Wan) the stream makes frames faster than real time, so
// the clock jumps ahead and the frames passed over are dropped. Between the two, a buffer that
// stays above `latency` (after a stall the stream made up for, every frame then waits longer)
// shrinks back gently: while every frame of the last `settle` ms waited more than `latency` plus
// one frame interval, each new frame moves the clock a tenth of an interval earlier (played a
// little faster, nothing dropped). On a display tick the newest due frame is shown; any older due
// frames not yet shown are dropped too (the browser is slower than the stream).
// The last `historySeconds` of frames stay (as JPEG blobs) for scrubbing and replay. Every
// decoded bitmap is closed once its frame is shown over, passed over or reset away (a decode
// that finishes after that closes its bitmap at once).

export class FramePlayer {
  /** draw(bitmap, frame): show a decoded frame; options: latency (ms: the jitter buffer; its
   * default is the server's, which a view sets from the hello before any frame comes), slack
   * (ms), historySeconds; decode(blob) -> Promise<bitmap>. */
  constructor(draw, { latency = 0, slack = 400, settle = 2000, historySeconds = 10,
                      decode = (blob) => createImageBitmap(blob) } = {}) {
    this.draw = draw;
    this.decode = decode;
    this.latency = latency;
    this.slack = slack;
    this.settle = settle;
    this.historySeconds = historySeconds;
    this.reset();
  }

  reset() {
    for (const frame of this.queue ?? []) this.release(frame);
    if (this.shown) this.release(this.shown);
    this.queue = [];        // frames waiting for their slot: {index, fps, meta, blob, arrival, bitmap}
    this.history = [];      // shown and passed-over frames, oldest first: {index, fps, meta, blob}
    this.base = null;       // ms: when frame `origin` is due
    this.origin = 0;
    this.fps = null;        // the stream's rate, from its first frame
    this.shown = null;      // the frame on screen
    this.burst = 1;         // the most frames seen arriving at once
    this.run = 0;
    this.lastArrival = -Infinity;
    this.waits = [];        // [arrival, ms it waits for its slot] of the frames of the last `settle` ms
    this.stats = { shown: 0, dropped: 0, late: 0, latency: 0, log: [] };   // log: [index, time shown] (last 600)
  }

  due(index) {
    return this.base + ((index - this.origin) * 1000) / this.fps;
  }

  /** A frame arrived: {index, fps, session, meta, blob}; `now` in ms (performance.now()). */
  push(frame, now) {
    let last = this.queue.length ? this.queue[this.queue.length - 1] : this.shown;
    if (last && (frame.session !== last.session || frame.fps !== this.fps)) {   // a new stream, or a new rate
      this.reset();
      last = null;
    }
    if (last && frame.index <= last.index) return;                              // stale or repeated
    frame = { ...frame, arrival: now, bitmap: null };
    this.run = now - this.lastArrival < 30 ? this.run + 1 : 1;
    this.burst = Math.max(this.burst, this.run);
    this.lastArrival = now;
    const allowed = this.latency + Math.max(this.slack, (2000 * this.burst) / this.fps);
    if (this.base === null) {
      this.fps = frame.fps;
      this.origin = frame.index;
      this.base = now + this.latency;
    } else if (this.due(frame.index) < now) {
      this.stats.late += 1;
      this.base += now + this.latency - this.due(frame.index);      // the stream was slow: wait for it
    } else if (this.due(frame.index) > now + allowed) {
      this.base -= this.due(frame.index) - (now + this.latency);    // too far behind: jump ahead
    }
    this.catchUp(frame.index, now);
    this.queue.push(frame);
    frame.decoding = this.decode(frame.blob).then((b) => {
      if (frame.released) b.close?.();
      else frame.bitmap = b;
    }, () => { frame.failed = true; });
  }

  /** Shrink a buffer that stays above `latency`: when every frame of the last `settle` ms (at
   * least that long a record) waited more than `latency` plus a frame interval, the clock moves a
   * tenth of an interval earlier, never below `latency` for the frame that just came. */
  catchUp(index, now) {
    const interval = 1000 / this.fps;
    this.waits.push([now, this.due(index) - now]);
    while (this.waits.length && this.waits[0][0] < now - this.settle) this.waits.shift();
    const spanned = this.waits.length > 1 && now - this.waits[0][0] >= this.settle * 0.9;
    const least = Math.min(...this.waits.map(([, wait]) => wait));
    if (spanned && least > this.latency + interval) {
      this.base -= Math.min(interval / 10, this.due(index) - now - this.latency);
    }
  }

  /** A display tick: show the newest frame whose slot has come (and is decoded). */
  tick(now) {
    let pick = -1;
    for (let i = 0; i < this.queue.length && this.due(this.queue[i].index) <= now; i++) {
      if (this.queue[i].bitmap || this.queue[i].failed) pick = i;
    }
    if (pick < 0) return;
    const passed = this.queue.splice(0, pick + 1);
    const frame = passed.pop();
    if (frame.failed) return passed.concat([frame]).forEach((f) => this.retire(f, true));
    this.draw(frame.bitmap, frame);
    this.retire(this.shown, false);
    for (const skipped of passed) this.retire(skipped, true);
    this.shown = frame;
    this.stats.shown += 1;
    this.stats.latency = now - frame.arrival;
    this.stats.log.push([frame.index, now]);
    if (this.stats.log.length > 600) this.stats.log.shift();
  }

  /** The frame's bitmap closed, now or (still decoding) once it is decoded. */
  release(frame) {
    frame.released = true;
    frame.bitmap?.close?.();
    frame.bitmap = null;
  }

  retire(frame, dropped) {
    if (!frame) return;
    if (dropped) this.stats.dropped += 1;
    this.release(frame);
    this.history.push({ index: frame.index, fps: frame.fps, session: frame.session, meta: frame.meta, blob: frame.blob });
    const keep = Math.min(600, Math.max(30, Math.round(this.fps * this.historySeconds)));
    if (this.history.length > keep) this.history.splice(0, this.history.length - keep);
  }

  /** Frames shown per second over the last `seconds` of the log. */
  displayFps(now, seconds = 2) {
    const recent = this.stats.log.filter(([, t]) => t > now - seconds * 1000);
    if (recent.length < 2) return 0;
    return ((recent.length - 1) * 1000) / (recent[recent.length - 1][1] - recent[0][1]);
  }

  /** What a view shows of its playing: {frame: the index on screen or null, fps: shown per
   * second lately, buffer: ms from a frame's arrival to its showing}. */
  readout(now) {
    return { frame: this.shown?.index ?? null, fps: this.displayFps(now), buffer: Math.round(this.stats.latency) };
  }

  /** Every frame still held, oldest first (history, the one on screen): for scrubbing. */
  kept() {
    return this.shown ? [...this.history, this.shown] : [...this.history];
  }
}

/** Replays kept frames from `start` at their fps: draw(bitmap, frame) for each; returns stop(). */
export function replay(frames, start, draw, onEnd) {
  let i = start, stopped = false, timer = null;
  const t0 = performance.now();
  const next = async () => {
    if (stopped) return;
    if (i >= frames.length) return onEnd?.();
    const frame = frames[i];
    const bitmap = await createImageBitmap(frame.blob);
    if (stopped) return bitmap.close();
    draw(bitmap, frame);
    bitmap.close();
    i += 1;
    const at = t0 + ((i - start) * 1000) / frame.fps;
    timer = setTimeout(next, Math.max(0, at - performance.now()));
  };
  next();
  return () => { stopped = true; clearTimeout(timer); };
}
