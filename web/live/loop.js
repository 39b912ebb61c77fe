// The display loop of a live view: tick(now) on every animation frame while the view can be
// seen, none while it cannot (its tab closed, the panel hidden, the page in the background),
// so a hidden view costs nothing; it starts again when the view shows.

export class RenderLoop {
  /** tick(now): one display tick; visible(): whether the view can be seen now. */
  constructor(tick, visible, { frames = globalThis } = {}) {
    this.tick = tick;
    this.visible = visible;
    this.frames = frames;   // requestAnimationFrame's owner (a stand-in in unit tests)
    this.running = false;
  }

  /** Run from the next animation frame on, while the view is visible (again: after it showed). */
  start() {
    if (this.running || !this.visible()) return;
    this.running = true;
    const step = (now) => {
      if (!this.running) return;
      if (!this.visible()) {
        this.running = false;
        return;
      }
      this.tick(now);
      this.frames.requestAnimationFrame(step);
    };
    this.frames.requestAnimationFrame(step);
  }

  stop() {
    this.running = false;
  }

  /** Start whenever `element` comes into view or its page comes back (the loop stops by itself). */
  watch(element, doc = element.ownerDocument) {
    new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) this.start(); }).observe(element);
    doc.addEventListener("visibilitychange", () => this.start());
  }
}

/** Whether `element` can be seen: in the page, laid out (no display: none above it), the page shown. */
export function shown(element) {
  return element.isConnected && element.getClientRects().length > 0 && element.ownerDocument.visibilityState === "visible";
}
