// The StreamDiT Live panel: watch a stream at its own frame rate, scrub and replay its last
// seconds, see its buffer, re-prompt it, feed it the camera, stop it, pop it out, copy its
// prompts back.
// `host` connects it to ComfyUI: post(path, body, quiet) -> reply or null (an error toasted
// unless quiet), check(body) -> reply or null (quiet), toast(text, severity), viewerUrl(id),
// whepUrl(id) (WebRTC playback, web/live/whep.js),
// copyToSchedule(id, timeline) -> text, stopAutoQueue() -> whether Run (Instant) was on,
// settings() -> {latency, quality, max_fps}.

import { Camera } from "./camera.js";
import { addStyles, button, el, paint } from "./dom.js";
import { RenderLoop, shown } from "./loop.js";
import { FramePlayer, replay } from "./player.js";
import { WhepPlayer } from "./whep.js";

const STATS_EVERY_MS = 250;
const CAMERA_TITLE = "Send your camera to the stream as its input (video to video); stop it to go back to the prompt alone";

export class Panel {
  constructor(client, host) {
    this.client = client;
    this.host = host;
    this.id = null;             // the stream shown
    this.state = null;          // its last status / frame meta
    this.mode = "live";         // live | paused | replay
    this.fit = true;
    this.stopReplay = null;
    this.hintTicket = 0;        // the latest check or send: only its reply may set the hint
    this.stopNote = null;       // after a Stop, until its run ends: what "stopped" adds (Run (Instant) too)
    this.timelineShown = null;  // the timeline the list shows (rebuilt only when it changes)
    this.lastStats = 0;
    this.player = new FramePlayer((bitmap) => this.mode === "live" && paint(this.canvas, bitmap));
    this.build();
    this.loop = new RenderLoop((now) => this.tick(now), () => shown(this.root));
    client.addEventListener("frame", (e) => this.onFrame(e.detail));
    client.addEventListener("status", (e) => this.onStatus(e.detail));
    client.addEventListener("streams", (e) => this.onStreams(e.detail));
    client.addEventListener("camera", (e) => e.detail.stream_id === this.id && this.setHint(e.detail.error, true));
    client.addEventListener("hello", () => this.onHello());
    client.addEventListener("connection", (e) => this.onConnection(e.detail));
  }

  build() {
    this.select = el("select", { class: "sd-select", "data-testid": "streamdit-select", title: "Stream to watch" });
    this.dot = el("span", { class: "sd-dot" });
    this.title = el("span", { "data-testid": "streamdit-stream" });
    this.counter = el("span", { "data-testid": "streamdit-counter" });
    this.fps = el("span", { "data-testid": "streamdit-fps" });
    this.latency = el("span", { "data-testid": "streamdit-latency" });
    this.stats = el("span", { class: "sd-stats", title: "The frame on screen, frames shown per second, and how far " +
                              "behind the stream the panel plays (to keep an even pace)" },
                    "frame ", this.counter, " · ", this.fps, " fps · ", this.latency, " ms behind");
    this.rtcStats = el("span", { class: "sd-stats", "data-testid": "streamdit-rtc-stats",
                                 title: "Frames the browser showed per second over WebRTC (its own jitter buffer paces them)" });
    this.liveButton = button("Pause", "live", "Pause the view (the stream goes on) / go back to live");
    this.playButton = button("Replay", "play", "Replay the last seconds from the scrub position at the stream's rate");
    this.scrub = el("input", { class: "sd-scrub", type: "range", min: "0", max: "0", value: "0",
                               "data-testid": "streamdit-scrub", title: "The last seconds of the stream" });
    this.fitButton = button("Fit", "fit", "Fit the frame to the panel / show it at its own size (1:1)");
    this.fullButton = button("Fullscreen", "fullscreen", "Show the stream full screen (Esc leaves)");
    this.popButton = button("Pop out", "popout", "Open this stream in its own window (also for OBS or a second screen)");
    this.stopButton = button("Stop", "stop", "End the running run now; it keeps the frames it made");
    this.rtcButton = button("WebRTC", "webrtc", "Play the stream over WebRTC (less delay; the server needs aiortc) / " +
                            "back to the panel's own player (pause, replay, scrub)");
    this.cameraButton = button("Use camera", "camera", CAMERA_TITLE);
    this.strength = el("input", { class: "sd-strength", type: "range", min: "0", max: "1", step: "0.05",
                                  "data-testid": "streamdit-strength",
                                  title: "How far the stream may leave the camera image: 0 = the image as it is, 1 = the prompt alone" });
    this.strengthText = el("span", { class: "sd-stats", title: "The camera's strength" });
    const bar = el("div", { class: "sd-bar" }, this.select, this.dot, this.title, this.stats, this.rtcStats,
                   el("span", { class: "sd-grow" }),
                   this.liveButton, this.playButton, this.scrub, this.fitButton, this.fullButton, this.popButton,
                   this.rtcButton, this.stopButton, el("span", { class: "sd-row" }, this.cameraButton, this.strength, this.strengthText));

    this.canvas = el("canvas", { "data-testid": "streamdit-frame", width: "64", height: "64" });
    this.empty = el("div", { class: "sd-empty", "data-testid": "streamdit-empty" },
                    el("strong", { text: "No stream yet" }),
                    el("span", { text: "Queue a workflow with a StreamDiT Stream node (the templates under " +
                                       "streamdit-comfy have some); it plays here as it streams." }));
    this.cameraVideo = el("video", { class: "sd-camera", "data-testid": "streamdit-camera-video", playsinline: "",
                                     title: "Your camera: what the stream takes as its input" });
    this.cameraVideo.muted = true;
    this.camera = new Camera(this.client, this.cameraVideo);
    this.rtcVideo = el("video", { class: "sd-rtc", "data-testid": "streamdit-rtc", playsinline: "", autoplay: "" });
    this.rtcVideo.muted = true;
    this.webrtc = null;         // a WhepPlayer while the stream plays over WebRTC
    this.stage = el("div", { class: "sd-stage" }, this.cameraVideo, this.canvas, this.rtcVideo, this.empty);

    this.prompt = el("div", { class: "sd-prompt", "data-testid": "streamdit-prompt" });
    this.bars = el("div", { class: "sd-bars", "data-testid": "streamdit-buffer",
                            title: "Noise level of each chunk in the buffer, clean (left) to noisy (right)" });
    this.input = el("input", { class: "sd-input", type: "text", maxlength: "1000", placeholder: "new prompt",
                               "data-testid": "streamdit-input" });
    this.switchButton = button("Switch", "switch", "Re-prompt the stream from its next frame on");
    this.switchButton.type = "submit";
    const form = el("form", { class: "sd-row" }, this.input, this.switchButton);
    this.hint = el("div", { class: "sd-hint", "data-testid": "streamdit-hint" });
    this.timeline = el("ol", { class: "sd-timeline", "data-testid": "streamdit-timeline" });
    this.copyButton = button("Copy to schedule", "copy",
                             "Write these prompts, live switches included, into the stream's Prompt Schedule node");
    this.cameraStats = el("div", { class: "sd-stats", "data-testid": "streamdit-camera-stats" });
    const side = el("div", { class: "sd-side" }, el("span", { class: "sd-label", text: "now following" }), this.prompt,
                    this.bars, form, this.hint, this.cameraStats, el("span", { class: "sd-label", text: "prompts by frame" }),
                    this.timeline, el("div", { class: "sd-row" }, this.copyButton));
    this.root = el("div", { class: "sd-panel", "data-testid": "streamdit-panel" }, bar,
                   el("div", { class: "sd-body" }, this.stage, side));

    this.select.addEventListener("change", () => this.show(this.select.value));
    this.liveButton.addEventListener("click", () => this.setMode(this.mode === "live" ? "paused" : "live"));
    this.playButton.addEventListener("click", () => this.replay());
    this.scrub.addEventListener("input", () => { this.setMode("paused"); this.showKept(Number(this.scrub.value)); });
    this.fitButton.addEventListener("click", () => { this.fit = !this.fit; this.render(); });
    this.fullButton.addEventListener("click", () => this.stage.requestFullscreen?.());
    this.popButton.addEventListener("click", () => window.open(this.host.viewerUrl(this.id) + (this.webrtc ? "&webrtc=1" : ""),
                                                               `streamdit-${this.id}`, "width=720,height=540"));
    this.stopButton.addEventListener("click", () => this.stop());
    this.rtcButton.addEventListener("click", () => this.playWebrtc(!this.webrtc));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.switchPrompt(); });
    this.input.addEventListener("input", () => this.checkSoon());
    this.cameraButton.addEventListener("click", () => this.toggleCamera());
    this.strength.addEventListener("input", () => { this.strengthSet = true; this.render(); });
    this.copyButton.addEventListener("click", () => this.host.toast(this.host.copyToSchedule(this.id, this.state.timeline), "info"));
    this.render();
  }

  mount(container) {
    addStyles(container.ownerDocument);
    container.style.height = "100%";   // the tab's content area has a height; the panel fills it
    container.append(this.root);
    this.client.listStreams();   // the stream picker, from the moment the panel is shown
    if (!this.watched) {
      this.watched = true;
      this.loop.watch(this.root);
    }
    this.loop.start();
  }

  // --- what the server says ----------------------------------------------------------
  onHello() {
    const defaults = this.client.defaults ?? {};
    if (!this.strengthSet && defaults.strength !== undefined) this.strength.value = String(defaults.strength);
    if (this.host.settings().latency == null && defaults.latency !== undefined) this.player.latency = defaults.latency;
    this.render();
  }

  onConnection({ connected, reason, retry }) {
    this.connectionProblem = connected ? null
      : `live view not connected${reason ? `: ${reason}` : ""}; trying again in ${Math.round(retry / 1000)} s`;
    this.render();
  }

  onStreams(streams) {
    // streams queued elsewhere are listed, never watched unasked (the panel follows this browser's runs)
    const ids = Object.keys(streams);
    const choose = el("option", { value: "", text: ids.length ? "choose a stream…" : "no streams" });
    choose.disabled = true;
    this.select.replaceChildren(choose, ...ids.map((id) => el("option", { value: id, text: id })));
    this.select.value = this.id ?? "";
    if (this.id !== null && streams[this.id] && this.state) this.state.running = streams[this.id].running;
    this.render();
  }

  onStatus(status) {
    // a status for a stream not watched here is one this browser just queued: follow it
    if (status.stream_id !== this.id && status.running) this.show(status.stream_id);
    if (status.stream_id !== this.id) return;
    if (this.state && this.state.running !== status.running && !this.hint.classList.contains("sd-warn")) {
      // "stopping…" becomes "stopped" as the run ends; "sent" and the rest belong to the run that ended
      this.setHint(!status.running && this.stopNote !== null ? `stopped${this.stopNote}` : "", false);
    }
    this.stopNote = null;
    this.state = { ...this.state, ...status };
    this.render();
  }

  onFrame(frame) {
    if (frame.stream_id !== this.id) return;
    if (this.loop.running) this.player.push(frame, performance.now());   // hidden: nothing decoded, nothing queued
    const { prompt, tau, made_fps, camera, similarity_filter } = frame.meta;
    this.state = { ...this.state, prompt, tau, made_fps, camera, similarity_filter };   // running comes from statuses alone
  }

  show(id) {
    if (id === this.id) return;
    this.camera.stop();
    this.playWebrtc(false);
    this.id = id;
    this.state = null;
    this.player.reset();
    this.setMode("live");
    const { latency, ...options } = this.host.settings();
    this.player.latency = latency ?? this.client.defaults?.latency ?? 0;
    this.client.watch(id === null ? [] : [id], options);
    this.render();
  }

  // --- playing ---------------------------------------------------------------------------
  tick(now) {
    if (this.mode === "live") this.player.tick(now);
    if (now - this.lastStats > STATS_EVERY_MS) {
      this.lastStats = now;
      this.renderStats(now);
    }
  }

  setMode(mode) {
    this.mode = mode;
    if (mode !== "replay" && this.stopReplay) { this.stopReplay(); this.stopReplay = null; }
    this.liveButton.textContent = mode === "live" ? "Pause" : "Go live";
    this.liveButton.classList.toggle("sd-on", mode !== "live");
    this.playButton.classList.toggle("sd-on", mode === "replay");
  }

  async showKept(i) {
    const frame = this.player.kept()[i];
    if (!frame) return;
    const bitmap = await createImageBitmap(frame.blob);
    paint(this.canvas, bitmap);
    bitmap.close();
    this.counter.textContent = String(frame.index);
  }

  replay() {
    const kept = this.player.kept();
    if (!kept.length) return;
    const start = Number(this.scrub.value) >= kept.length - 1 ? 0 : Number(this.scrub.value);
    this.setMode("replay");
    this.stopReplay = replay(kept, start, (bitmap, frame) => {
      paint(this.canvas, bitmap);
      this.counter.textContent = String(frame.index);
      this.scrub.value = String(kept.indexOf(frame));
    }, () => this.setMode("live"));
  }

  // --- steering -----------------------------------------------------------------------------
  async switchPrompt() {
    const prompt = this.input.value.trim();
    if (!prompt) return this.host.toast("Type a prompt first.", "warn");
    clearTimeout(this.checkTimer);
    const ticket = ++this.hintTicket;   // a check still under way no longer speaks for the hint
    const reply = await this.host.post("/streamdit/prompt", { stream_id: this.id, prompt });
    if (reply && ticket === this.hintTicket) {
      const when = this.state?.running ? "from the next frame" : "when the stream runs next (it is idle)";
      this.setHint(reply.unknown_words.length ? `sent; ignored (not known): ${reply.unknown_words.join(", ")}`
                                              : `sent: it takes over ${when}`, false);
    }
  }

  checkSoon() {
    clearTimeout(this.checkTimer);
    const ticket = ++this.hintTicket;
    this.checkTimer = setTimeout(async () => {
      const prompt = this.input.value.trim();
      if (!prompt || !this.state?.accepts_text) return this.setHint("", false);
      const reply = await this.host.check({ stream_id: this.id, prompt });
      if (reply && ticket === this.hintTicket && this.input.value.trim() === prompt) {
        const unknown = reply.unknown_words;
        this.setHint(unknown.length ? `not known to the model (ignored): ${unknown.join(", ")}` : "", unknown.length > 0);
      }
    }, 250);
  }

  setHint(text, warn) {
    this.hint.textContent = text;
    this.hint.classList.toggle("sd-warn", warn);
    this.input.classList.toggle("sd-warn", warn);
  }

  async toggleCamera() {
    const { text, warn } = await this.camera.toggle(this.id, {
      streamFps: this.player.fps ?? this.client.defaults?.fps, width: this.canvas.width, height: this.canvas.height,
      strength: () => Number(this.strength.value) });
    this.setHint(text, warn);
    this.render();
  }

  async stop() {
    // Run (Instant) would queue the stream again at once: it stops too
    const instant = this.host.stopAutoQueue?.() ? " (Run (Instant) stopped too)" : "";
    // quiet: a stream that ended a moment ago (its status not here yet) has nothing to stop
    const reply = await this.host.post("/streamdit/stop", { stream_id: this.id }, true);
    const running = Boolean(this.state?.running);   // the run's end may have come before the reply
    this.stopNote = reply && running ? instant : null;
    this.setHint((reply ? (running ? "stopping…" : "stopped") : "not running: nothing to stop") + instant, false);
  }

  /** Plays the stream over WebRTC (on) or with the panel's own player (off); a refusal is said in the hint. */
  async playWebrtc(on) {
    this.webrtc?.stop();
    this.webrtc = on && this.id !== null ? new WhepPlayer(this.rtcVideo) : null;
    this.render();
    if (!this.webrtc) return;
    const player = this.webrtc;
    try {
      await player.start(this.host.whepUrl(this.id));
      if (player === this.webrtc) this.setHint("playing over WebRTC", false);
    } catch (e) {
      if (player !== this.webrtc) return;
      this.webrtc = null;
      this.setHint(`WebRTC: ${e.message}`, true);
      this.render();
    }
  }

  // --- drawing the controls ------------------------------------------------------------
  render() {
    const s = this.state;
    const running = Boolean(s?.running);
    this.empty.style.display = this.id === null ? "" : "none";
    this.canvas.style.display = this.id === null || this.webrtc ? "none" : "";
    this.rtcVideo.style.display = this.webrtc ? "" : "none";
    this.stats.style.display = this.webrtc ? "none" : "";
    this.rtcStats.style.display = this.webrtc ? "" : "none";
    if (!this.webrtc) this.rtcCount = null;
    this.rtcButton.textContent = this.webrtc ? "Own player" : "WebRTC";
    this.rtcButton.classList.toggle("sd-on", Boolean(this.webrtc));
    this.stage.classList.toggle("sd-actual", !this.fit);
    this.fitButton.textContent = this.fit ? "Fit" : "1:1";
    this.dot.classList.toggle("sd-running", running);
    this.title.textContent = this.connectionProblem ?? (this.id === null ? "" : `${this.id} — ${running ? "running" : "idle"}`);
    this.title.classList.toggle("sd-warn", Boolean(this.connectionProblem));
    for (const b of [this.liveButton, this.playButton, this.scrub, this.fullButton, this.popButton, this.rtcButton]) {
      b.disabled = this.id === null;
    }
    this.stopButton.disabled = !running;
    const text = Boolean(s?.accepts_text);
    this.input.disabled = this.switchButton.disabled = this.id === null || !text;
    this.input.placeholder = s && !text ? s.how_to_reprompt : "new prompt";
    this.copyButton.disabled = !text || !s?.timeline?.length;
    const video = Boolean(s?.video_input);
    this.cameraButton.disabled = this.id === null || (!video && !this.camera.on);
    this.strength.disabled = this.id === null;
    this.cameraButton.title = s && !video ? "This stream's model takes no video input" : CAMERA_TITLE;
    this.cameraButton.textContent = this.camera.on ? "Stop camera" : "Use camera";
    this.cameraButton.classList.toggle("sd-on", this.camera.on);
    this.stage.classList.toggle("sd-with-camera", this.camera.on);   // the camera beside the output
    this.strengthText.textContent = Number(this.strength.value).toFixed(2);
    const c = s?.camera, f = s?.similarity_filter;
    this.cameraStats.textContent = this.camera.on && c
      ? `camera frames sent ${this.camera.sent} · used ${c.used} · skipped (too many) ${c.dropped} · ` +
        `repeated (too few) ${c.repeated}` +
        (c.latency === null ? "" : ` · camera in to out ${Math.round(c.latency * 1000)} ms`) +
        (f && f.threshold > 0 ? ` · unchanged input, steps skipped ${f.skipped} of ${f.checked}` : "")
      : "";
    this.prompt.textContent = s?.prompt ?? "";
    const timeline = s?.timeline ?? [];
    const key = JSON.stringify(timeline);
    if (key !== this.timelineShown) {
      this.timelineShown = key;
      this.timeline.replaceChildren(...timeline.map(([frame, prompt]) => el("li", { text: `${frame}: ${prompt}` })));
    }
    this.renderBars(s?.tau ?? []);
  }

  renderBars(tau) {
    while (this.bars.children.length > tau.length) this.bars.lastChild.remove();
    while (this.bars.children.length < tau.length) this.bars.append(el("div", { "data-testid": "streamdit-bar" }));
    tau.forEach((t, i) => {
      const bar = this.bars.children[i];
      bar.style.height = `${Math.round((1 - t) * 40) + 4}px`;
      bar.title = `frames ${i === 0 ? "leaving next" : `${i} chunk(s) from leaving`}: ${Math.round((1 - t) * 100)}% noise`;
    });
  }

  renderStats(now) {
    if (this.webrtc) {   // the video's own count: the panel's player is not what is on screen
      const shown = this.rtcVideo.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
      const [before, then] = this.rtcCount ?? [shown, now];
      this.rtcCount = [shown, now];
      this.rtcStats.textContent = `over WebRTC · ${(now > then ? (shown - before) * 1000 / (now - then) : 0).toFixed(1)} fps`;
    }
    const { frame, fps, buffer } = this.player.readout(now);
    if (this.mode === "live" && frame !== null) this.counter.textContent = String(frame);
    this.fps.textContent = fps.toFixed(1);
    this.latency.textContent = String(buffer);
    const kept = this.player.kept().length;
    this.scrub.max = String(Math.max(0, kept - 1));
    if (this.mode === "live") this.scrub.value = this.scrub.max;
    if (this.state) this.render();
  }
}
