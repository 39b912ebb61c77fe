// Small DOM helpers and the panel's stylesheet (ComfyUI loads only .js from web/, so the
// CSS lives here and is added once). Colours follow ComfyUI's theme variables.
// User text only ever goes in through textContent / value, never as HTML.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** Draw a decoded frame on `canvas`, which takes the frame's size. */
export function paint(canvas, bitmap) {
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
  }
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
}

export function button(label, testid, title) {
  return el("button", { class: "sd-button", type: "button", "data-testid": `streamdit-${testid}`, title }, label);
}

const CSS = `
.sd-panel { display: grid; grid-template-rows: auto minmax(0, 1fr); height: 100%; box-sizing: border-box; gap: 6px;
  padding: 6px 8px; color: var(--fg-color, #ddd); font: 13px/1.35 system-ui, sans-serif; min-height: 0; }
.sd-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; min-width: 0; }
.sd-bar .sd-grow { flex: 1; }
.sd-body { display: grid; grid-template-columns: minmax(160px, 1.4fr) minmax(240px, 1fr); gap: 10px; min-height: 0; }
.sd-stage { position: relative; background: #0b0b0b; border: 1px solid var(--border-color, #444);
  border-radius: 6px; overflow: hidden; min-height: 0; }
.sd-stage canvas, .sd-stage .sd-rtc { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain;
  image-rendering: pixelated; }
.sd-stage.sd-actual { overflow: auto; display: grid; place-items: center; }
.sd-stage.sd-actual canvas { position: static; width: auto; height: auto; }
.sd-stage:fullscreen { border: none; border-radius: 0; }
.sd-empty { position: absolute; inset: 0; display: flex; flex-direction: column; align-items: center;
  justify-content: center; gap: 6px; padding: 12px; text-align: center; color: var(--descrip-text, #999); }
.sd-empty strong { color: var(--fg-color, #ddd); font-size: 14px; }
.sd-side { display: flex; flex-direction: column; gap: 8px; overflow: auto; min-height: 0; padding-right: 2px; }
.sd-button, .sd-select, .sd-input { background: var(--comfy-input-bg, #222); color: var(--input-text, #ddd);
  border: 1px solid var(--border-color, #444); border-radius: 6px; padding: 3px 9px; font: inherit; }
.sd-button { cursor: pointer; white-space: nowrap; }
.sd-button:hover:not(:disabled) { border-color: var(--p-primary-color, #5b8def); }
.sd-button:disabled, .sd-input:disabled { opacity: 0.45; cursor: default; }
.sd-button.sd-on { background: var(--p-primary-color, #5b8def); color: var(--p-primary-contrast-color, #fff);
  border-color: transparent; }
.sd-input { flex: 1; min-width: 0; }
.sd-input.sd-warn { border-color: var(--error-text, #e5484d); }
.sd-stats { color: var(--descrip-text, #aaa); font-variant-numeric: tabular-nums; }
.sd-dot { width: 8px; height: 8px; border-radius: 50%; background: #666; display: inline-block; }
.sd-dot.sd-running { background: #3ecf8e; box-shadow: 0 0 6px #3ecf8e; }
.sd-scrub { flex: 1; min-width: 80px; }
.sd-row { display: flex; gap: 6px; align-items: center; }
.sd-hint { color: var(--descrip-text, #aaa); min-height: 1.2em; }
.sd-hint.sd-warn, .sd-bar .sd-warn { color: var(--error-text, #e5484d); }
.sd-prompt { white-space: pre-wrap; word-break: break-word; }
.sd-bars { display: flex; align-items: flex-end; gap: 3px; height: 44px; }
.sd-bars div { width: 16px; background: var(--p-primary-color, #5b8def); border-radius: 2px 2px 0 0;
  transition: height 0.1s; }
.sd-timeline { margin: 0; padding-left: 0; list-style: none; font-variant-numeric: tabular-nums; }
.sd-timeline li { white-space: pre-wrap; word-break: break-word; }
.sd-label { color: var(--descrip-text, #aaa); font-size: 12px; }
.sd-stage .sd-camera { display: none; position: absolute; left: 0; top: 0; width: 50%; height: 100%;
  object-fit: contain; }
.sd-stage.sd-with-camera .sd-camera { display: block; }
.sd-stage.sd-with-camera canvas { left: 50%; width: 50%; }
.sd-strength { width: 80px; }
`;

export function addStyles(doc = document) {
  if (doc.getElementById("streamdit-live-css")) return;
  doc.head.append(el("style", { id: "streamdit-live-css", text: CSS }));
}
