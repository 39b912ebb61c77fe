"""What a run's output costs per frame: the JPEG a live viewer gets, the H.264 recording and the
H.264 live push (``nodes/run/push.py``, on its own thread: its cost is that thread's).

A run hands every frame to its viewers (one JPEG per quality asked for, ``nodes/live/hub.py``)
and, when it records, to the stream's growing video (``nodes/run/recorder.py``). Both now run on
the run's output thread (``Backlog``) while the stream makes the next frames; before, the
stream's thread did them between steps. This measures each on this machine's CPU at the
given sizes, the pack's own code on smooth random content panning a pixel a frame (8 frames
a piece, as a Wan chunk at c = 2), and what it would cap a stream at whose model and decode take ``--gpu-ms`` a frame:
1000 / (gpu + output) FPS on the stream's thread, 1000 / max(gpu, output) on its own.

The push's column is its thread's encode and mux into an FLV file (what an RTMP push costs here
without the network); with ``--media-server``, into Debian's nginx-rtmp on a loopback port, and
then the push's latency: from a frame handed to the push to a player (PyAV, reading the media
server) decoding it.

Where their optional packages load: a WebRTC viewer's cost (aiortc's VP8 encoder, which every
WebRTC viewer runs for itself, with the track's conversion) and an NDI source's (``NdiOutput.send``:
the RGBX copy and the runtime's send; declared at 10,000 fps so that NDI's clock adds no wait).

Usage: python bench/run_output.py [--sizes 832x480,64x64] [--pieces 6] [--gpu-ms 20] [--media-server]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts")]
from fractions import Fraction  # noqa: E402

import av  # noqa: E402
import media_server  # noqa: E402
PIECE = 8              # frames handed over at a time: a Wan chunk of 2 latents
VIEWER_QUALITY = 80    # the panel's default JPEG quality


def frames(width: int, height: int, count: int):
    """[count, height, width, 3] in [0, 1], like decoded video: smooth random content panning
    one pixel a frame, with a little grain."""
    import torch
    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, max(1, height // 16), max(1, (width + count) // 16), generator=g)
    scene = torch.nn.functional.interpolate(base, size=(height, width + count), mode="bicubic")[0].movedim(0, -1)
    clip = torch.stack([scene[:, i:i + width] for i in range(count)])
    return (clip + 0.005 * torch.randn(clip.shape, generator=g)).clamp(0, 1)


def wait(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the push did not send its frames in time")
        time.sleep(0.001)


MARK = 32   # pixels: the corner square whose grey level tells a frame's index to the player


def push_latency(LivePush, server, width: int, height: int, count: int = 80, fps: float = 16.0):  # noqa: N803
    """(median, 90th percentile ms, frames timed) from a frame handed to a live push to a player of
    the media server decoding it: the push paced at ``fps``, the player (PyAV) joining once the
    broadcast runs, each frame's index read from the grey level of its corner square."""
    import threading
    content = frames(width, height, count)
    mark = min(MARK, width // 2 * 2, height // 2 * 2)
    level = lambda i: 10 + 3 * i  # noqa: E731   (80 frames at most: one grey level each)
    for i in range(count):
        content[i, :mark, :mark] = level(i) / 255
    url = f"{server.url}/latency-{width}x{height}"
    handed, seen = {}, []

    player = threading.Thread(target=media_server.play, daemon=True,
                              args=(url, lambda t, frame: seen.append((t, float(frame[:mark, :mark].mean())))))
    live = LivePush(url, fps)
    for i in range(count):
        if i == 16:
            player.start()   # nginx-rtmp serves a broadcast that runs
        handed[i] = time.time()
        live.send(content[i:i + 1])
        time.sleep(1 / fps)
    live.close()
    player.join(15)
    delays = sorted(1000 * (t - handed[round((grey - 10) / 3)]) for t, grey in seen
                    if 0 <= round((grey - 10) / 3) < count)
    if not delays:
        raise RuntimeError("the player decoded nothing")
    return delays[len(delays) // 2], delays[int(len(delays) * 0.9)], len(delays)


def webrtc_ms(pixels, pieces) -> str:
    """ms per frame of one WebRTC viewer: aiortc's VP8 encoder on the frames as the track makes them."""
    try:
        from aiortc.codecs.vpx import Vp8Encoder
    except ImportError:
        return "- (no aiortc)"
    encoder, index = Vp8Encoder(), 0
    pictures = []
    for piece in pieces:
        for frame in pixels(piece):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts, picture.time_base = index * 5625, Fraction(1, 90_000)
            pictures.append(picture)
            index += 1
    encoder.encode(pictures[0])                                        # the first, a keyframe (not timed)
    start = time.perf_counter()
    for picture in pictures[1:]:
        encoder.encode(picture)
    return f"{1000 * (time.perf_counter() - start) / (len(pictures) - 1):.2f}"


def ndi_ms(ndi, pixels, pieces) -> str:
    """ms per frame of an NDI source's send (unclocked: 10,000 fps declared)."""
    if ndi.missing():
        return "- (no cyndilib)"
    frames = [frame for piece in pieces for frame in pixels(piece)]
    output = ndi.NdiOutput("streamdit-bench", 10_000.0, frames[0].shape[1], frames[0].shape[0])
    output.send(frames[0])
    start = time.perf_counter()
    for frame in frames[1:]:
        output.send(frame)
    seconds = time.perf_counter() - start
    output.close()
    return f"{1000 * seconds / (len(frames) - 1):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="832x480,64x64")
    ap.add_argument("--pieces", type=int, default=6, help="pieces of 8 frames timed per size")
    ap.add_argument("--gpu-ms", type=float, default=20.0, help="a GPU's model + decode time per frame")
    ap.add_argument("--media-server", action="store_true", help="push to nginx-rtmp on loopback, not a file")
    args = ap.parse_args()
    from comfy_pack import load_pack
    pack = load_pack()
    import folder_paths
    jpeg, pixels = pack("nodes.live.hub").jpeg, pack("nodes.live.hub").pixels
    StreamRecorder = pack("nodes.run.recorder").StreamRecorder   # noqa: N806
    LivePush = pack("nodes.run.push").LivePush   # noqa: N806

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; {args.pieces} pieces of {PIECE} "
          f"frames per size")
    where = "nginx-rtmp on loopback" if args.media_server else "an FLV file"
    print(f"| size | JPEG q{VIEWER_QUALITY} ms/frame | H.264 record ms/frame | output ms/frame | "
          f"FPS cap at {args.gpu_ms:g} ms GPU, on the stream's thread | on the output thread | "
          f"H.264 push ms/frame (its thread, to {where}) | WebRTC VP8 ms/frame (each viewer) | NDI ms/frame |")
    print("|---|---|---|---|---|---|---|---|---|")
    latencies = []
    with tempfile.TemporaryDirectory() as out, contextlib.ExitStack() as stack:
        server = stack.enter_context(media_server.MediaServer()) if args.media_server else None

        def push_ms(size: str, pieces) -> float:
            """The push thread's time per frame, a piece at a time (each sent before the next comes)."""
            to_file = lambda target, fmt: av.open(os.path.join(out, f"push-{size}.flv"), "w", format=fmt)  # noqa: E731
            live = LivePush((server.url if server else "rtmp://127.0.0.1/live") + f"/bench-{size}", 16.0,
                            open=None if server else to_file)
            live.send(pieces[0])                                       # connects (not timed)
            wait(lambda: live.sent == PIECE)
            start = time.perf_counter()
            for n, piece in enumerate(pieces[1:], start=2):
                live.send(piece)
                wait(lambda n=n: live.sent == n * PIECE)
            seconds = time.perf_counter() - start
            live.close()
            return 1000 * seconds / (PIECE * (len(pieces) - 1))

        folder_paths.set_output_directory(out)
        for size in args.sizes.split(","):
            width, height = map(int, size.split("x"))
            pieces = frames(width, height, PIECE * (args.pieces + 1)).split(PIECE)
            recorder = StreamRecorder(f"bench-{size}", 16.0, {})
            recorder.write(pieces[0], run_start=True)                  # opens the file (not timed)
            start = time.perf_counter()
            for piece in pieces[1:]:
                recorder.write(piece)
            record = 1000 * (time.perf_counter() - start) / (PIECE * args.pieces)
            recorder.close()
            start = time.perf_counter()
            for piece in pieces[1:]:
                for image in piece:
                    jpeg(image, VIEWER_QUALITY)
            shown = 1000 * (time.perf_counter() - start) / (PIECE * args.pieces)
            output = shown + record
            print(f"| {size} | {shown:.2f} | {record:.2f} | {output:.2f} | {1000 / (args.gpu_ms + output):.1f} | "
                  f"{1000 / max(args.gpu_ms, output):.1f} | {push_ms(size, pieces):.2f} | {webrtc_ms(pixels, pieces)} "
                  f"| {ndi_ms(pack('nodes.run.ndi'), pixels, pieces)} |")
            if server is not None:
                latencies.append((size, push_latency(LivePush, server, width, height)))
    for size, (median, p90, count) in latencies:
        print(f"push latency at {size}, stream handed a frame -> a player reading nginx-rtmp decoded it: median "
              f"{median:.1f} ms, 90th percentile {p90:.1f} ms ({count} frames at 16 fps)")


if __name__ == "__main__":
    main()
