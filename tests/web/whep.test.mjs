// WebRTC playback's page side without a browser: the offer goes to the stream's WHEP URL as
// SDP once gathered, the answer is applied, Stop closes the connection and DELETEs the peer's
// Location, and a refusal is thrown with the server's own reason.
import assert from "node:assert/strict";
import test from "node:test";

import { WhepPlayer, refusal, whepUrl } from "../../web/live/whep.js";

/** A stand-in RTCPeerConnection: gathers at once, records what the page does with it. */
class FakePeer extends EventTarget {
  static made = [];
  constructor() {
    super();
    this.iceGatheringState = "new";
    this.transceivers = [];
    this.closed = false;
    FakePeer.made.push(this);
  }
  addTransceiver(kind, init) { this.transceivers.push([kind, init.direction]); }
  async createOffer() { return { type: "offer", sdp: "v=0 offer" }; }
  async setLocalDescription(description) {
    this.localDescription = description;
    this.iceGatheringState = "complete";
  }
  async setRemoteDescription(description) { this.remoteDescription = description; }
  close() { this.closed = true; }
}

function fetcher(responses) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push([url, init.method, init.headers?.["Content-Type"] ?? null, init.body ?? null]);
    return responses.shift() ?? new Response("{}");
  };
  return { fetch, calls };
}

test("the WHEP URL names the stream, whatever its characters", () => {
  assert.equal(whepUrl("../../api/streamdit/whep", "http://h:8188/extensions/p/view.html?stream=a", "a b&c"),
               "http://h:8188/api/streamdit/whep?stream=a+b%26c");
});

test("the offer is posted as SDP, the answer applied, and Stop deletes the peer", async () => {
  const { fetch, calls } = fetcher([new Response("v=0 answer", { status: 201, headers: { Location: "whep/k1" } })]);
  const video = { srcObject: "old" };
  const player = new WhepPlayer(video, { pcClass: FakePeer, fetcher: fetch });
  await player.start("http://h/api/streamdit/whep?stream=s");
  const pc = FakePeer.made.at(-1);
  assert.deepEqual(pc.transceivers, [["video", "recvonly"]]);
  assert.deepEqual(calls[0], ["http://h/api/streamdit/whep?stream=s", "POST", "application/sdp", "v=0 offer"]);
  assert.deepEqual(pc.remoteDescription, { type: "answer", sdp: "v=0 answer" });
  assert.equal(player.location, "http://h/api/streamdit/whep/k1");
  player.stop();
  assert.ok(pc.closed);
  assert.deepEqual(calls[1].slice(0, 2), ["http://h/api/streamdit/whep/k1", "DELETE"]);
  assert.equal(video.srcObject, null);
});

test("a refusal is thrown with the server's reason, and nothing stays open", async () => {
  const { fetch, calls } = fetcher([new Response(JSON.stringify({ error: "needs aiortc" }), { status: 501 })]);
  const player = new WhepPlayer({}, { pcClass: FakePeer, fetcher: fetch });
  await assert.rejects(player.start("http://h/w?stream=s"), /needs aiortc/);
  assert.ok(FakePeer.made.at(-1).closed);
  assert.equal(calls.length, 1);   // no DELETE: the server made no peer
});

test("a refusal that is not JSON says its status", async () => {
  assert.equal(await refusal(new Response("<html>", { status: 502 })), "HTTP 502");
});
