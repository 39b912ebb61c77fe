"""One run of a stream node in this process: recording, Cancel, re-runs, the output's limit."""
import json
import os
import threading
import time

import av
import pytest
import torch

PROMPT = "0: a red circle moving right"


@pytest.fixture(scope="module")
def student(comfy):
    m = comfy.NODE_CLASS_MAPPINGS
    model = m["StreamDiTLoader"].execute("streamdit-shapes-64px-distilled.safetensors", "cpu", "float32").result[0]
    schedule = m["StreamDiTPromptSchedule"].execute(PROMPT, 0).result[0]
    node = m["StreamDiTStream"]

    def run(stream_id, action="continue", frames=8, **options):
        args = dict(model=model, schedule=schedule, stream_id=stream_id, action=action, seed=0, width=64, height=64,
                    K=0, N=4, c=2, s=1, guidance=1.0, frames=frames)
        return node.execute(**{**args, **options}).result[0]
    return run


def video_frames(path: str) -> int:
    with av.open(path) as container:
        return sum(1 for _ in container.decode(video=0))


def test_a_recording_grows_across_runs_with_its_index_and_a_restart_begins_a_new_one(student):
    import folder_paths
    first = student("rec", action="restart", record=True)
    second = student("rec", record=True)
    assert first.recording == second.recording and first.recording["type"] == "output"
    path = os.path.join(folder_paths.get_output_directory(), first.recording["subfolder"], first.recording["filename"])
    with open(path + ".json") as f:
        index = json.load(f)
    # the file holds every frame but the newest (the muxer keeps it until the next), as its index says
    assert (index["frames"], index["next_frame"], index["fps"], index["complete"]) == (15, 16, 16.0, False)
    assert index["timeline"] == [[0, "a red circle moving right"]]
    assert video_frames(path) == 15                     # playable while it grows, to the frame its index lists
    again = student("rec", action="restart", record=True)
    assert again.recording["filename"] != first.recording["filename"]
    assert video_frames(path) == 16                     # the replaced stream's video is closed, whole


def test_frames_are_recorded_in_order_off_the_streams_thread(student, pack, monkeypatch):
    """The video encoding runs on the run's output thread while the stream makes the next
    frames: every frame reaches the recording, in order, and the run's output is the same."""
    recorder = pack("nodes.run.recorder").StreamRecorder
    written, write = [], recorder.write
    monkeypatch.setattr(recorder, "write", lambda self, images, run_start=False: (
        written.append((threading.current_thread().name, images.clone())), write(self, images, run_start))[1])
    out = student("rec-thread", action="restart", frames=21, record=True)
    assert {name.split("_")[0] for name, _ in written} == {"streamdit-output"}
    assert torch.equal(torch.cat([images for _, images in written]), out.images)


def test_a_cancelled_recorded_run_records_every_frame_it_made(student, pack):
    import comfy.model_management as mm
    import folder_paths
    streams = pack("nodes.live.registry").STREAMS
    first = student("cancel-rec", action="restart", frames=2, record=True)
    worker = threading.Thread(target=lambda: pytest.raises(mm.InterruptProcessingException, student, "cancel-rec",
                                                           frames=100000, record=True))
    worker.start()
    session = streams.get("cancel-rec")
    deadline = time.monotonic() + 60
    while session.frames.frames_taken < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    mm.interrupt_current_processing(True)
    worker.join(60)
    mm.interrupt_current_processing(False)
    session.attachments.pop("recording").close()
    path = os.path.join(folder_paths.get_output_directory(), first.recording["subfolder"], first.recording["filename"])
    assert session.frames.frames_taken >= 40 and video_frames(path) == session.frames.frames_taken


def test_cancel_keeps_nothing_back_and_the_next_run_starts_after_the_cancelled_frames(student, pack):
    import comfy.model_management as mm
    streams = pack("nodes.live.registry").STREAMS
    student("cancel", action="restart", frames=2)
    errors = []
    worker = threading.Thread(target=lambda: errors.append(
        pytest.raises(mm.InterruptProcessingException, student, "cancel", frames=100000)))
    worker.start()
    session = streams.get("cancel")
    deadline = time.monotonic() + 60
    while session.frames.frames_taken < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    changes = streams.changes("cancel")
    mm.interrupt_current_processing(True)
    worker.join(60)
    mm.interrupt_current_processing(False)
    assert errors and not session.running
    taken = session.frames.frames_taken
    assert 40 <= taken < 100000 and session.frames.ready == 0       # nothing decoded waits to come back
    assert streams.changes("cancel") == changes + 1                   # a restart of it will not be a cache hit
    after = student("cancel", frames=4)
    assert after.first_index == taken and after.images.shape[0] == 4


def test_a_restart_fingerprint_moves_only_when_the_stream_was_touched(comfy, pack):
    node = comfy.NODE_CLASS_MAPPINGS["StreamDiTStream"]
    streams = pack("nodes.live.registry").STREAMS
    before = node.fingerprint_inputs(action="restart", stream_id="touched")
    assert node.fingerprint_inputs(action="restart", stream_id="touched") == before
    streams.changed("touched")
    assert node.fingerprint_inputs(action="restart", stream_id="touched") != before


def test_a_runs_output_keeps_its_newest_frames_within_the_limit(pack):
    frame = 4 * 4 * 3 * 4                                             # a 4x4 RGB float frame's bytes
    kept = pack("nodes.run.queued_run").RunOutput(limit=3 * frame, block_bytes=frame)
    for i in range(5):
        kept.add(torch.full((1, 4, 4, 3), float(i)))
    assert len(kept) == 3 and kept.dropped == 2
    assert kept.images()[:, 0, 0, 0].tolist() == [2.0, 3.0, 4.0]


def test_a_runs_output_holds_its_frames_in_a_few_blocks(pack):
    """Chunks of two frames go into blocks that double up to the block size: a long run's
    frames are a few large allocations, not one per chunk; the oldest whole blocks go past the
    limit, and the images are the newest frames in order."""
    frame = 4 * 4 * 3 * 4
    kept = pack("nodes.run.queued_run").RunOutput(limit=100 * frame, block_bytes=16 * frame)
    for i in range(0, 200, 2):
        kept.add(torch.arange(i, i + 2, dtype=torch.float64).view(2, 1, 1, 1).expand(2, 4, 4, 3))
    # blocks of 2, 4, 8, then 16 frames (11 full, the 12th holds 10); six blocks fit in 100 frames
    assert [len(b) for b in kept.blocks] == [16] * 6 and kept.filled == 10
    assert len(kept) == 90 and kept.dropped == 110
    images = kept.images()
    assert images.dtype == torch.float32 and images[:, 0, 0, 0].tolist() == [float(i) for i in range(110, 200)]


def test_cancel_during_start_up_leaves_the_stream_as_if_it_had_not_begun(comfy, pack):
    """A buffer whose start-up takes a while (256x256, guided): Cancel lands inside it; the
    stream is left unstarted with its noise generator rewound, so the next run makes the
    frames a fresh stream makes."""
    import comfy.model_management as mm
    m = comfy.NODE_CLASS_MAPPINGS
    model = m["StreamDiTLoader"].execute("streamdit-shapes-64px.safetensors", "cpu", "float32").result[0]
    schedule = m["StreamDiTPromptSchedule"].execute(PROMPT, 0).result[0]
    args = dict(model=model, schedule=schedule, action="restart", seed=5, width=256, height=256, K=2, N=3, c=2, s=2,
                guidance=3.0, frames=2)
    streams = pack("nodes.live.registry").STREAMS
    fresh = m["StreamDiTStream"].execute(stream_id="fresh", **args).result[0].images
    errors, passes = [], []
    worker = threading.Thread(target=lambda: errors.append(pytest.raises(
        mm.InterruptProcessingException, m["StreamDiTStream"].execute, stream_id="startup", **args)))
    worker.start()
    deadline = time.monotonic() + 60
    while (streams.get("startup") is None or streams.get("startup").stream.evaluations < 2) and time.monotonic() < deadline:
        time.sleep(0.005)
    mm.interrupt_current_processing(True)
    worker.join(60)
    mm.interrupt_current_processing(False)
    session = streams.get("startup")
    assert errors and not session.stream.started and not session.running
    later = m["StreamDiTStream"].execute(stream_id="startup", **{**args, "action": "continue"}).result[0]
    assert later.first_index == 0
    torch.testing.assert_close(later.images, fresh, rtol=0, atol=0)


def test_a_stream_dropped_to_make_room_is_reported_and_restarts_with_a_message(student, caplog):
    for i in range(9):                                   # the registry keeps 8
        student(f"cap-{i}", action="restart", frames=1)
    assert "stream 'cap-0' was dropped to make room for 'cap-8'" in caplog.text
    again = student("cap-0", frames=2)
    assert again.first_index == 0
    assert "stream 'cap-0' was dropped earlier to make room for other streams" in caplog.text


def test_a_buffer_or_size_the_model_was_not_trained_on_streams_with_a_warning(student, caplog):
    out = student("untrained", action="restart", frames=2, N=6)   # K + N*c = 12, trained on 8
    assert out.images.shape == (2, 64, 64, 3)
    assert "trained on a buffer of 8 frames; K + N*c = 12 may stream worse" in caplog.text


def test_a_stop_sent_before_a_runs_first_step_ends_it_with_a_frame(student, pack):
    """A stop that arrives between runs, or as a run starts, ends the next run as any stop does:
    cleanly, with the frame it has (it failed with a bare StopRequested)."""
    streams = pack("nodes.live.registry").STREAMS
    student("early-stop", action="restart", frames=2)
    streams.get("early-stop").request_stop()
    out = student("early-stop", frames=50)
    assert out.first_index == 2 and len(out.images) == 1
    assert len(student("early-stop", frames=3).images) == 3            # the stop was used up


@pytest.mark.parametrize("stream_id", ["<img src=x onerror=alert(1)>", "\ud800x", "a" * 65, "", "tab\there"])
def test_a_stream_id_outside_the_rule_is_refused_before_anything_runs(comfy, pack, stream_id):
    """One rule for stream ids, checked before a prompt runs (validate_inputs) and by the run itself."""
    registry = pack("nodes.live.registry")
    node = comfy.NODE_CLASS_MAPPINGS["StreamDiTStream"]
    why = node.validate_inputs(K=0, N=4, c=2, s=1, stream_id=stream_id)
    assert isinstance(why, str) and why.startswith(f"stream_id = {stream_id!r}: a stream id has")
    with pytest.raises(ValueError, match="a stream id has"):
        pack("nodes.run.queued_run").run_stream(None, stream_id, "restart", 1, None)
    assert registry.STREAMS.get(stream_id) is None


@pytest.mark.parametrize("stream_id", ["stream-1", "wan live 2", "Straße_3.v:2", "ストリーム"])
def test_stream_ids_of_letters_digits_spaces_and_punctuation_pass(pack, stream_id):
    assert pack("nodes.live.registry").stream_id_problem(stream_id) is None
