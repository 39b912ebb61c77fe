// StreamDiT in ComfyUI's frontend: the "StreamDiT Live" bottom panel tab and its settings.
// Frames come over the pack's own websocket (web/live/client.js, nodes/live/hub.py) and play
// at the stream's frame rate (web/live/player.js); the panel (web/live/panel.js) steers
// the stream through the pack's HTTP routes (nodes/live/routes.py). The newest frame also shows
// on the stream node itself, through ComfyUI's own progress previews.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { LiveClient, socketUrl } from "./live/client.js";
import { Panel } from "./live/panel.js";
import { whepUrl } from "./live/whep.js";

/** What the browser starts from, as the server says (nodes/live/hub.py LIVE_DEFAULTS); none when
 * it cannot be read: a setting left unset then asks nothing, and the server's own applies. */
const DEFAULTS = await api.fetchApi("/streamdit/defaults").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));

const SETTINGS = [
  { id: "StreamDiT.Live.Latency", name: "Live panel: buffer (ms)", type: "number", defaultValue: DEFAULTS.latency,
    attrs: { min: 0, max: 2000, step: 50 },
    tooltip: "How far behind the stream the panel plays, to keep the pace steady when frames arrive unevenly." },
  { id: "StreamDiT.Live.Quality", name: "Live panel: JPEG quality", type: "slider", defaultValue: DEFAULTS.quality,
    attrs: { min: 10, max: 100, step: 5 }, tooltip: "Quality of the frames sent to the panel (not of the outputs)." },
  { id: "StreamDiT.Live.MaxFPS", name: "Live panel: most frames per second", type: "number",
    defaultValue: DEFAULTS.max_fps,
    attrs: { min: 1, max: 240, step: 1 },
    tooltip: "The server sends the panel no more frames than this, whatever the stream's own rate." },
];

function setting(id) {
  const value = app.extensionManager?.setting?.get(id);
  return value ?? SETTINGS.find((s) => s.id === id).defaultValue;
}

function toast(text, severity = "error") {
  if (app.extensionManager?.toast) {
    app.extensionManager.toast.add({ severity, summary: "StreamDiT", detail: text, life: 4000 });
  } else {
    console.warn("[StreamDiT]", text);
  }
}

async function post(path, body, quiet = false) {
  try {
    const r = await api.fetchApi(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                         body: JSON.stringify(body) });
    const reply = await r.json();
    if (!r.ok && !quiet) toast(reply.error ?? `HTTP ${r.status}`);
    return r.ok ? reply : null;
  } catch (e) {
    if (!quiet) toast(String(e));
    return null;
  }
}

function websocketUrl() {
  connectedAs = api.clientId ?? api.initialClientId ?? null;
  return socketUrl(api.apiURL("/streamdit/ws"), location.href, connectedAs);
}

/** Stop Run (Instant) re-queueing, as its own button would: the frontend's queue mode "instant"
 * (older frontends) turns off, "instant-running" (newer ones) goes idle. True when it did. */
function stopAutoQueue() {
  const settings = app.extensionManager?.queueSettings;
  const next = { instant: "disabled", "instant-running": "instant-idle" }[settings?.mode];
  if (!next) return false;
  settings.mode = next;
  return true;
}

/** Write `timeline` ([frame, prompt] pairs) into the Prompt Schedule node feeding stream `id`. */
function copyToSchedule(id, timeline) {
  const nodes = app.graph.nodes ?? app.graph._nodes;
  const stream = nodes.find((n) => n.type === "StreamDiTStream" &&
                                   n.widgets?.find((w) => w.name === "stream_id")?.value === id);
  if (!stream) return `No StreamDiT Stream node with stream id "${id}" in this workflow.`;
  const source = stream.getInputNode(stream.findInputSlot("schedule"));
  const widget = source?.type === "StreamDiTPromptSchedule" && source.widgets.find((w) => w.name === "schedule");
  if (!widget) return `The stream "${id}" takes its schedule from no Prompt Schedule node.`;
  widget.value = timeline.map(([frame, prompt]) => `${frame}: ${prompt}`).join("\n");
  widget.callback?.(widget.value);
  app.graph.setDirtyCanvas(true, true);
  return `Copied ${timeline.length} prompt(s) into the Prompt Schedule node #${source.id}.`;
}

const STREAM_NODES = new Set(["StreamDiTStream", "StreamDiTWanStream", "StreamDiTCausalWanStream"]);

/** Nodes 2.0 (the Vue node view) draws a node's progress previews in place of its outputs' media:
 * a stream node's last live frame (a JPEG) would be played as its recording ("Video failed to
 * load"). There a stream node's run ends showing its newest frame; the recording stays in the
 * run's outputs (queue, assets) and on Frame Output / Save Video. The classic canvas plays it. */
function keepTheNewestFrameInNodes2() {
  if (typeof api.dispatchCustomEvent !== "function") return;
  const dispatch = api.dispatchCustomEvent.bind(api);
  api.dispatchCustomEvent = (type, detail) => {
    if (type === "executed" && detail?.output?.animated && app.extensionManager?.setting?.get("Comfy.VueNodes.Enabled")) {
      const node = app.graph?.getNodeById?.(Number(detail.display_node ?? detail.node));
      if (node && STREAM_NODES.has(node.type)) {
        const { images, animated, ...rest } = detail.output;
        detail = { ...detail, output: rest };
      }
    }
    return dispatch(type, detail);
  };
}

let panel = null;
let connectedAs = null;   // the client id the live socket carries

/** The live socket with ComfyUI's client id: ComfyUI assigns it on its own socket's first
 * message, which may come after the panel connected; the panel's runs are told to that id. */
function followClientId(client) {
  const check = () => {
    const id = api.clientId ?? api.initialClientId ?? null;
    if (id !== connectedAs) {
      connectedAs = id;
      client.reconnect();
    }
  };
  api.addEventListener("status", check);
  api.addEventListener("reconnected", check);
}

/** The one panel of this page, made on first use (its websocket connects at once). */
function livePanel() {
  if (!panel) {
    const client = new LiveClient(websocketUrl);
    followClientId(client);
    panel = new Panel(client, {
      post: (path, body, quiet = false) => post(path, body, quiet),
      check: (body) => post("/streamdit/check", body, true),
      toast,
      viewerUrl: (id) => api.apiURL(`/streamdit/view?stream=${encodeURIComponent(id)}`),
      whepUrl: (id) => whepUrl(api.apiURL("/streamdit/whep"), location.href, id),
      copyToSchedule,
      stopAutoQueue,
      settings: () => ({ latency: setting("StreamDiT.Live.Latency"), quality: setting("StreamDiT.Live.Quality"),
                         max_fps: setting("StreamDiT.Live.MaxFPS") }),
    });
    window.streamditLive = { panel, client };   // for scripts and tests
  }
  return panel;
}

app.registerExtension({
  name: "streamdit.live",
  settings: SETTINGS.map((s) => ({ ...s, category: ["StreamDiT", "Live panel", s.name] })),
  bottomPanelTabs: [{
    id: "streamdit-live",
    title: "StreamDiT Live",
    type: "custom",
    render: (container) => livePanel().mount(container),
  }],
  // View > StreamDiT Live, or Alt + L: show / hide the panel
  commands: [{
    id: "StreamDiT.Live.Toggle",
    label: "StreamDiT Live",
    icon: "pi pi-video",
    function: () => app.extensionManager.command.execute("Workspace.ToggleBottomPanelTab.streamdit-live"),
  }],
  menuCommands: [{ path: ["View"], commands: ["StreamDiT.Live.Toggle"] }],
  keybindings: [{ combo: { key: "l", alt: true }, commandId: "StreamDiT.Live.Toggle" }],
  async setup() {
    keepTheNewestFrameInNodes2();
    livePanel();
  },
});
