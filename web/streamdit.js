// StreamDiT live panel: watch a running stream and steer it.
// Frames arrive as "streamdit.frame" websocket events (see nodes/live.py); the panel
// plays them, keeps the last seconds for scrubbing, shows the buffer's noise levels,
// and sends new prompts / stop to the pack's HTTP routes (nodes/routes.py).
// User text only ever goes through textContent / value, never through HTML.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const HISTORY_SECONDS = 10;
const MAX_HISTORY = 600;

function el(tag, style = {}, attrs = {}) {
  const node = document.createElement(tag);
  Object.assign(node.style, style);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** What the browser knows of each stream, by id. */
class Streams {
  constructor() {
    this.byId = new Map();
    this.current = null;
    this.listeners = new Set();
  }
  get(id) {
    if (!this.byId.has(id)) {
      this.byId.set(id, { id, history: [], frame: -1, fps: 0, prompt: "", tau: [], running: false });
    }
    return this.byId.get(id);
  }
  onFrame(detail) {
    const s = this.get(detail.stream_id);
    Object.assign(s, { frame: detail.frame, fps: detail.fps, prompt: detail.prompt, tau: detail.tau,
                       running: detail.running, node: detail.node });
    s.history.push({ index: detail.frame, url: detail.image });
    const keep = Math.min(MAX_HISTORY, Math.max(30, Math.round((detail.fps || 10) * HISTORY_SECONDS)));
    if (s.history.length > keep) s.history.splice(0, s.history.length - keep);
    this.current = detail.stream_id;
    this.emit(s, true);
  }
  onStatus(detail) {
    const s = this.get(detail.stream_id);
    Object.assign(s, { running: detail.running, prompt: detail.prompt, tau: detail.tau, node: detail.node });
    if (detail.running || this.current === null) this.current = detail.stream_id;
    this.emit(s, false);
  }
  emit(s, isFrame) {
    for (const f of this.listeners) f(s, isFrame);
  }
}

const streams = new Streams();

/** The panel's DOM and behaviour; mounted into a bottom-panel tab. */
class Panel {
  constructor() {
    this.mode = "live"; // live | paused | replay
    this.replayTimer = null;
    this.root = el("div", { display: "flex", gap: "16px", padding: "8px", height: "100%",
                            boxSizing: "border-box", fontFamily: "sans-serif", fontSize: "13px",
                            color: "var(--fg-color, #ddd)", overflow: "auto" },
                   { "data-testid": "streamdit-panel" });
    const left = el("div", { display: "flex", flexDirection: "column", gap: "6px", alignItems: "center" });
    this.image = el("img", { width: "192px", height: "192px", imageRendering: "pixelated",
                             background: "#111", objectFit: "contain" },
                    { "data-testid": "streamdit-frame", alt: "StreamDiT frame" });
    this.slider = el("input", { width: "192px" }, { type: "range", min: "0", max: "0", value: "0",
                                                    "data-testid": "streamdit-scrub" });
    const buttons = el("div", { display: "flex", gap: "6px" });
    this.liveButton = el("button", {}, { "data-testid": "streamdit-live" });
    this.playButton = el("button", {}, { "data-testid": "streamdit-play" });
    this.playButton.textContent = "Play";
    buttons.append(this.liveButton, this.playButton);
    left.append(this.image, this.slider, buttons);

    const right = el("div", { display: "flex", flexDirection: "column", gap: "8px", flex: "1", minWidth: "240px" });
    this.empty = el("div", { opacity: "0.7" }, { "data-testid": "streamdit-empty" });
    this.empty.textContent = "No stream yet. Queue a workflow with a StreamDiT Stream node.";
    this.title = el("div", { fontWeight: "bold" }, { "data-testid": "streamdit-stream" });
    this.stats = el("div", {}, { "data-testid": "streamdit-stats" });
    this.counter = el("span", {}, { "data-testid": "streamdit-counter" });
    this.fps = el("span", {}, { "data-testid": "streamdit-fps" });
    this.stats.append("frame ", this.counter, " · ", this.fps, " fps");
    this.prompt = el("div", { whiteSpace: "pre-wrap", wordBreak: "break-word" }, { "data-testid": "streamdit-prompt" });
    this.bars = el("div", { display: "flex", alignItems: "flex-end", gap: "3px", height: "60px" },
                   { "data-testid": "streamdit-buffer", title: "noise level of each chunk, clean (left) to noisy (right)" });
    const form = el("form", { display: "flex", gap: "6px" });
    this.input = el("input", { flex: "1" }, { type: "text", maxlength: "1000", placeholder: "new prompt",
                                              "data-testid": "streamdit-input" });
    this.switchButton = el("button", {}, { type: "submit", "data-testid": "streamdit-switch" });
    this.switchButton.textContent = "Switch prompt";
    this.stopButton = el("button", {}, { type: "button", "data-testid": "streamdit-stop" });
    this.stopButton.textContent = "Stop";
    form.append(this.input, this.switchButton, this.stopButton);
    this.message = el("div", { opacity: "0.8" }, { "data-testid": "streamdit-message" });
    right.append(this.empty, this.title, this.stats, this.prompt, this.bars, form, this.message);
    this.root.append(left, right);

    this.liveButton.addEventListener("click", () => this.setMode(this.mode === "live" ? "paused" : "live"));
    this.playButton.addEventListener("click", () => this.replay());
    this.slider.addEventListener("input", () => { this.setMode("paused"); this.showHistory(); });
    form.addEventListener("submit", (e) => { e.preventDefault(); this.switchPrompt(); });
    this.stopButton.addEventListener("click", () => this.stop());
    this.setMode("live");
    this.render(null, false);
    streams.listeners.add((s, isFrame) => { if (s.id === streams.current) this.render(s, isFrame); });
  }

  mount(container) {
    container.append(this.root);
    const s = streams.current && streams.get(streams.current);
    this.render(s || null, false);
  }

  setMode(mode) {
    this.mode = mode;
    if (mode !== "replay" && this.replayTimer) { clearInterval(this.replayTimer); this.replayTimer = null; }
    this.liveButton.textContent = mode === "live" ? "Pause" : "Go live";
  }

  replay() {
    const s = streams.current && streams.get(streams.current);
    if (!s || s.history.length === 0) return;
    this.setMode("replay");
    const interval = 1000 / Math.max(1, s.fps || 8);
    this.replayTimer = setInterval(() => {
      const next = Number(this.slider.value) + 1;
      if (next >= s.history.length) { this.setMode("live"); this.render(s, true); return; }
      this.slider.value = String(next);
      this.showHistory();
    }, interval);
  }

  showHistory() {
    const s = streams.current && streams.get(streams.current);
    const item = s && s.history[Number(this.slider.value)];
    if (item) { this.image.src = item.url; this.counter.textContent = String(item.index); }
  }

  render(s, isFrame) {
    this.empty.style.display = s ? "none" : "";
    if (!s) { this.title.textContent = ""; return; }
    this.title.textContent = `stream ${s.id} — ${s.running ? "running" : "idle"}`;
    this.fps.textContent = (s.fps || 0).toFixed(1);
    this.prompt.textContent = `prompt: ${s.prompt}`;
    this.slider.max = String(Math.max(0, s.history.length - 1));
    if (this.mode === "live" && isFrame) {
      const last = s.history[s.history.length - 1];
      this.image.src = last.url;
      this.counter.textContent = String(last.index);
      this.slider.value = this.slider.max;
    }
    this.renderBars(s.tau || []);
  }

  renderBars(tau) {
    while (this.bars.children.length > tau.length) this.bars.lastChild.remove();
    while (this.bars.children.length < tau.length) {
      this.bars.append(el("div", { width: "18px", background: "#5b8def", transition: "height 0.1s" },
                          { "data-testid": "streamdit-bar" }));
    }
    tau.forEach((t, i) => {
      const bar = this.bars.children[i];
      bar.style.height = `${Math.round((1 - t) * 56) + 4}px`;
      bar.title = `chunk ${i}: tau = ${t.toFixed(3)} (noise ${(1 - t).toFixed(3)})`;
    });
  }

  async post(path, body) {
    try {
      const r = await api.fetchApi(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                           body: JSON.stringify(body) });
      const reply = await r.json();
      this.message.textContent = r.ok ? "" : `error: ${reply.error}`;
      return r.ok ? reply : null;
    } catch (e) {
      this.message.textContent = `error: ${e}`;
      return null;
    }
  }

  async switchPrompt() {
    const prompt = this.input.value.trim();
    if (!streams.current) { this.message.textContent = "no stream to re-prompt"; return; }
    if (!prompt) { this.message.textContent = "type a prompt first"; return; }
    const reply = await this.post("/streamdit/prompt", { stream_id: streams.current, prompt });
    if (reply) {
      this.message.textContent = reply.unknown_words.length
        ? `unknown words ignored: ${reply.unknown_words.join(", ")}` : "prompt sent";
    }
  }

  async stop() {
    if (!streams.current) return;
    if (await this.post("/streamdit/stop", { stream_id: streams.current })) this.message.textContent = "stopping";
  }
}

/** The newest frame on the stream node itself (also where no panel tabs exist). */
function showOnNode(detail) {
  const node = detail.node != null && app.graph?.getNodeById(Number(detail.node));
  if (!node) return;
  const img = new Image();
  img.onload = () => { node.imgs = [img]; app.graph.setDirtyCanvas(true, false); };
  img.src = detail.image;
}

let panel = null;

app.registerExtension({
  name: "streamdit.live",
  bottomPanelTabs: [{
    id: "streamdit-live",
    title: "StreamDiT Live",
    type: "custom",
    render: (container) => { panel = panel || new Panel(); panel.mount(container); },
  }],
  async setup() {
    api.addEventListener("streamdit.frame", (e) => {
      streams.onFrame(e.detail);
      showOnNode(e.detail);
    });
    api.addEventListener("streamdit.status", (e) => streams.onStatus(e.detail));
  },
});
