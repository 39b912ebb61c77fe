// WebRTC playback of one stream (WHEP, nodes/live/webrtc.py): the page offers to receive one
// video track, POSTs its offer (ICE candidates gathered first: one round trip, no trickle),
// and plays the answer's track in a <video>. The server says why it cannot (no aiortc, too
// many viewers) in its JSON error, which `WhepPlayer.start` throws as the message.

export const GATHER_MS = 2000;   // the longest wait for the page's own ICE candidates

/** The WHEP endpoint of `streamId` for a page whose API lives at `apiUrl` (absolute or relative to `pageUrl`). */
export function whepUrl(apiUrl, pageUrl, streamId) {
  const url = new URL(apiUrl, pageUrl);
  url.searchParams.set("stream", streamId);
  return url.toString();
}

/** What a refused WHEP request said: its JSON `error`, else its status. */
export async function refusal(response) {
  const body = await response.text().catch(() => "");
  try {
    const error = JSON.parse(body)?.error;
    if (typeof error === "string") return error;
  } catch { /* not JSON */ }
  return `HTTP ${response.status}`;
}

export class WhepPlayer {
  /** video: the <video> that plays the stream; pc: the RTCPeerConnection class (a stand-in in unit tests). */
  constructor(video, { pcClass = globalThis.RTCPeerConnection, fetcher = (...a) => globalThis.fetch(...a) } = {}) {
    this.video = video;
    this.pcClass = pcClass;
    this.fetcher = fetcher;
    this.pc = null;
    this.location = null;
  }

  /** Plays the stream at WHEP `url`; throws Error(the server's reason) when refused. */
  async start(url) {
    this.stop();
    const pc = (this.pc = new this.pcClass());
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (e) => { this.video.srcObject = e.streams?.[0] ?? new MediaStream([e.track]); });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await this.fetcher(url, { method: "POST", headers: { "Content-Type": "application/sdp" },
                                               body: pc.localDescription.sdp });
    if (response.status !== 201) {
      this.stop();
      throw new Error(await refusal(response));
    }
    this.location = new URL(response.headers.get("Location"), response.url || url).toString();
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  }

  /** Ends the playback and tells the server (its peer closes at once). */
  stop() {
    if (this.pc) this.pc.close();
    if (this.location) this.fetcher(this.location, { method: "DELETE" }).catch(() => {});
    this.pc = this.location = null;
    if (this.video) this.video.srcObject = null;
  }
}

/** Resolves once `pc` has gathered its ICE candidates, or after GATHER_MS (with those it has). */
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_MS);
  });
}
