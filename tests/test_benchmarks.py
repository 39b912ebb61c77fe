"""The benchmarks run: their own code on tiny settings (their figures are measured elsewhere)."""
import importlib.util
import os
import re
import subprocess
import sys

import pytest

from comfy_server import comfy_path
from conftest import ROOT


def table(text: str) -> list[list[str]]:
    """The cells of each body row of the markdown tables in ``text`` (header rows left out)."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and "---" not in line][1:]


def test_the_wan_benchmark_runs_on_the_cpu_with_tiny_weights():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "wan_fps.py"), "--tiny", "--frames", "4",
                          "--no-compile"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = table(out.stdout)
    settings = {(row[0], row[1]) for row in rows}
    assert ("real time: StreamDiT c=2 s=1 N=4, 4 steps guidance 1", "taew2_1.safetensors") in settings
    assert ("real time: StreamDiT c=2 s=1 N=4, 4 steps guidance 1", "latent rgb") in settings
    causal = [row for row in rows if row[0].startswith("causal:")]
    if os.path.exists(os.path.join(comfy_path(), "comfy", "ldm", "wan", "ar_model.py")):   # ComfyUI 0.33 and newer
        assert {(row[0], row[1]) for row in causal} == {
            (name, decoder) for name in ("causal: frame-wise N=1 c=1, 4 steps (Self-Forcing, Causal Forcing)",
                                         "causal: chunk-wise N=1 c=3, 4 steps",
                                         "causal: frame-wise window N=3 c=1, 1 step each (Rolling Forcing)",
                                         "causal: chunk-wise window N=3 c=3, 1 step each")
            for decoder in ("vae", "taew2_1.safetensors")}
        assert all(float(row[9]) > 0 for row in causal)   # the cache's memory
    else:
        assert not causal and "causal rows: this ComfyUI has no causal Wan model" in out.stdout
    assert ("quality: StreamDiT c=2 s=4 N=5, 20 steps cfg 5", "vae") in settings and len(rows) == 17 + len(causal)
    assert {("quality, overlap decode", "vae"), ("real time, overlap decode", "vae"),
            ("quality: StreamDiT c=2 s=4 N=5, 20 steps cfg 5", "latent rgb"),
            ("real time, through the node's run: live view, recorded (H.264 on the output thread)", "vae")} <= settings
    assert {name for name, _ in settings if name.startswith("video to video")} == {
        "video to video: real time, a video at strength 0.6",
        "video to video: real time, a camera at strength 0.6 (encoded as it comes)",
        "video to video: real time, a still camera, skip similar 0.98"}
    for row in rows:   # every figure is a positive number; every timed part ran the model (whole chunks)
        fps, dit_fps, first, tflops = (float(row[i]) for i in (2, 4, 6, 8))
        assert fps > 0 and dit_fps > 0 and first > 0 and tflops > 0, row


def test_the_wan_benchmark_measures_only_the_rows_asked_for_and_its_compiled_rows_run():
    """--only keeps the baselines and the rows asked for; here the TorchCompileModel rows (inductor
    on the CPU, about a minute), which the run above leaves out."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "wan_fps.py"), "--tiny", "--frames", "4",
                          "--only", "real time, TorchCompileModel"], capture_output=True, text=True, timeout=900,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = table(out.stdout)
    assert [row[:2] for row in rows] == [
        ["stock KSampler clip of 10 latents + one-shot decode, 20 steps cfg 5", "vae"],
        ["stock KSampler clip of 21 latents + one-shot decode, 4 steps guidance 1", "vae"],
        ["real time, TorchCompileModel (inductor)", "taew2_1.safetensors"],
        ["real time, TorchCompileModel (inductor), overlap decode", "vae"]]
    assert all(float(row[2]) > 0 and float(row[8]) > 0 for row in rows)


def test_a_failing_wan_benchmark_row_says_why_and_the_next_rows_still_run(capsys):
    spec = importlib.util.spec_from_file_location("wan_fps", os.path.join(ROOT, "bench", "wan_fps.py"))
    wan_fps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wan_fps)
    figures = dict(fps=20.0, dit_fps=40.0, decode_ms=25.0, first_s=0.5, peak_gib=9.0, tflops=400.0)

    def out_of_memory():
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore lines")

    failed = wan_fps.report([("baseline", "vae", lambda: figures), ("too big", "vae", out_of_memory),
                             ("faster", "vae", lambda: {**figures, "fps": 30.0})])
    assert failed == 1
    rows = table(capsys.readouterr().out)
    assert rows[1][:3] == ["too big", "vae", "failed: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"]
    assert rows[2][:4] == ["faster", "vae", "30.00", "1.50"]   # measured after the failure, against the baseline


def test_the_run_output_benchmark_runs():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run_output.py"), "--sizes", "64x64,32x16",
                          "--pieces", "1"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = table(out.stdout)   # size, JPEG, record, output, caps on the stream's / output thread, push, WebRTC, NDI
    assert [row[0] for row in rows] == ["64x64", "32x16"]
    for row in rows:
        shown, record, output, inline, aside, pushed = map(float, row[1:7])
        assert shown > 0 and record > 0 and abs(output - shown - record) < 0.02 and 0 < inline < aside <= 50.0
        assert pushed > 0
        for cell, package in ((row[7], "aiortc"), (row[8], "cyndilib")):   # measured where the package loads
            assert float(cell) > 0 if importlib.util.find_spec(package) else cell == f"- (no {package})", row


def test_the_run_output_benchmark_measures_the_push_into_a_media_server():
    import media_server
    why = media_server.available()
    if why:
        pytest.skip(why)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run_output.py"), "--sizes", "64x64",
                          "--pieces", "1", "--media-server"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    (line,) = [line for line in out.stdout.splitlines() if line.startswith("push latency at 64x64")]
    median, p90, frames = re.search(r"median ([\d.]+) ms, 90th percentile ([\d.]+) ms \((\d+) frames", line).groups()
    assert 0 < float(median) <= float(p90) and int(frames) >= 16


def test_the_video_to_video_benchmark_runs():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "video_to_video.py"), "--frames", "12",
                          "--camera-seconds", "6", "--seeds", "2"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    strengths, cameras = out.stdout.split("camera input:")
    strengths, seeds = strengths.split("seeds:")
    cameras, similar = cameras.split("similarity filter:")

    rows = table(strengths)   # input, guidance, strength, FPS, ratio, colour, shape, error median, 90th
    assert len(rows) == 2 * 2 * 8 and {row[1] for row in rows} == {"2", "1"}
    assert all(float(row[3]) > 0 for row in rows)
    # strength 0 is the input: the object where the input's is (through the autoencoder)
    assert all(float(row[7]) < 1.0 for row in rows if row[2] == "0")
    assert [row[:2] for row in table(seeds)] == [[g, str(seed)] for g in ("1", "2") for seed in range(2)]
    camera_rows = table(cameras)   # camera FPS, stream, strength, skip similar, output FPS, ratio, latency, ...
    assert [row[0] for row in camera_rows] == ["none (text-to-video, the baseline)", "15", "30", "15", "15", "30", "15",
                                               "8", "8"]
    assert [row[1].startswith("paced") for row in camera_rows] == [False] * 4 + [True] * 5
    assert all(float(row[4]) > 0 and float(row[6]) > 0 for row in camera_rows[1:])   # frames out, a latency
    filter_rows = table(similar)
    assert len(filter_rows) == 12
    skipped = {(row[0], row[1]): float(row[2].rstrip("%")) for row in filter_rows}
    assert skipped[("a still red circle", "0.98")] > 0                              # a still input skips steps
    assert all(share == 0 for (_, threshold), share in skipped.items() if threshold == "0")   # off: none


def test_the_world_rendering_benchmark_runs():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "world_render.py"), "--batch", "2", "--repeats", "1"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = table(out.stdout)
    assert [row[0] for row in rows[:2]] == ["clip by clip, cpu", "a batch at once, cpu"] and rows[0][3] == "1.0x"
    assert all(float(row[1]) > 0 for row in rows)


def test_the_live_session_benchmark_runs(comfy):
    """The endless template in headless Chromium: until stopped with a re-prompt per row (the
    panel shows what was made, the re-prompt shows), the panel's Stop, then Run (Instant)."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "live_session.py"), "--minutes", "0.2",
                          "--every", "6", "--instant-minutes", "0.2", "--frames", "8"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "run success" in out.stdout and "the recording decodes to" in out.stdout
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in out.stdout.splitlines()
            if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 2 and all(int(r[2]) >= int(r[1]) - 32 and int(r[1]) > 60 for r in rows)  # made, shown
    assert all(r[5] == "not yet" or float(r[5]) > 0 for r in rows)                              # the re-prompt
    assert "the last frame of a run and the next run's first" in out.stdout


def test_the_live_latency_benchmark_runs(comfy):
    """Both ways of watching, in one run: the websocket's and WebRTC's frames shown, with latencies."""
    pytest.importorskip("aiortc", reason="aiortc is not installed: WebRTC playback is off")
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "live_latency.py"), "--seconds", "8"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = table(out.stdout)
    import media_server
    paths = ["JPEG websocket", "WebRTC"] + ([] if media_server.available() else ["RTMP push"])
    assert [row[0].split(" (")[0] for row in rows] == paths, out.stdout
    assert all(int(row[1]) > 16 and 0 < float(row[2]) < 5000 for row in rows), out.stdout
