"""The pack imported into ComfyUI in this process, the way ComfyUI's loader does it."""
import torch

NODE_IDS = ["StreamDiTLoader", "StreamDiTPromptSchedule", "StreamDiTStream", "StreamDiTFrameOutput",
            "StreamDiTWanStream", "StreamDiTConditioningSchedule", "StreamDiTVideoInput"]


def test_nodes_register_with_tooltips_in_one_category(comfy):
    for node_id in NODE_IDS:
        cls = comfy.NODE_CLASS_MAPPINGS[node_id]
        info = cls.GET_NODE_INFO_V1()
        assert info["category"] == "StreamDiT"
        inputs = {**info["input"]["required"], **info["input"].get("optional", {})}
        assert inputs, node_id
        for name, spec in inputs.items():
            assert spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"
    frames = comfy.NODE_CLASS_MAPPINGS["StreamDiTFrameOutput"].GET_NODE_INFO_V1()
    assert frames["output"] == ["IMAGE", "VIDEO", "INT"]
    assert frames["output_node"] is True


def test_validation_messages(comfy):
    stream = comfy.NODE_CLASS_MAPPINGS["StreamDiTStream"]
    assert stream.validate_inputs(K=0, N=4, c=2, s=2) is True
    assert "s (micro-steps per chunk) must be >= 1" in stream.validate_inputs(K=0, N=4, c=2, s=0)
    schedule = comfy.NODE_CLASS_MAPPINGS["StreamDiTPromptSchedule"]
    assert "line 1" in schedule.validate_inputs(schedule="nonsense")
    assert stream.fingerprint_inputs(action="continue") != stream.fingerprint_inputs(action="continue")
    assert stream.fingerprint_inputs(action="restart") == stream.fingerprint_inputs(action="restart")


def test_the_shipped_model_streams_through_the_node_classes(comfy):
    m = comfy.NODE_CLASS_MAPPINGS
    model = m["StreamDiTLoader"].execute("streamdit-shapes-64px.safetensors", "cpu", "float32").result[0]
    schedule = m["StreamDiTPromptSchedule"].execute("0: a red circle moving right", 0).result[0]
    args = dict(model=model, schedule=schedule, stream_id="inprocess", action="restart", seed=1, width=64,
                height=64, K=0, N=4, c=2, s=2, guidance=1.0, frames=6)
    frames = m["StreamDiTStream"].execute(**args).result[0]
    assert frames.images.shape == (6, 64, 64, 3) and frames.first_index == 0
    images, video, first = m["StreamDiTFrameOutput"].execute(frames, 8.0).result[:3]
    assert images.shape == (6, 64, 64, 3) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert video.get_dimensions() == (64, 64)
    more = m["StreamDiTStream"].execute(**{**args, "action": "continue"}).result[0]
    assert more.first_index == 6


def test_guidance_and_its_interval_reach_the_running_stream(comfy, pack):
    m = comfy.NODE_CLASS_MAPPINGS
    spec = m["StreamDiTStream"].GET_NODE_INFO_V1()["input"]["optional"]["guidance_until"]
    assert spec[1]["default"] == 0.75   # optional: API prompts saved before it still validate
    model = m["StreamDiTLoader"].execute("streamdit-shapes-64px.safetensors", "cpu", "float32").result[0]
    schedule = m["StreamDiTPromptSchedule"].execute("0: a red circle moving right", 0).result[0]
    args = dict(model=model, schedule=schedule, stream_id="guided", action="restart", seed=1, width=64,
                height=64, K=0, N=4, c=2, s=2, guidance=3.0, frames=2)
    m["StreamDiTStream"].execute(**args)
    velocity = pack("nodes.live.registry").STREAMS.get("guided").source
    assert (velocity.guidance, velocity.guidance_until) == (3.0, 0.75)
    m["StreamDiTStream"].execute(**{**args, "action": "continue", "guidance": 2.0, "guidance_until": 0.5})
    assert (velocity.guidance, velocity.guidance_until) == (2.0, 0.5)

def test_the_video_output_saves_with_whatever_its_comfyui_passes(comfy, pack, tmp_path):
    """SaveVideo of newer ComfyUI passes crf (and more) to ``save_to``: the stream's video takes
    every option its ComfyUI's video takes, and its file still carries the stream's metadata."""
    import inspect
    import json

    import av
    from comfy_api.latest import InputImpl
    frame_output = pack("nodes.frame_output")
    frames = torch.rand(4, 32, 32, 3, generator=torch.Generator().manual_seed(0))
    stream = type("Frames", (), dict(images=frames, stream_id="s", first_index=0, fps=8.0, timeline=((0, "p"),)))
    video = comfy.NODE_CLASS_MAPPINGS["StreamDiTFrameOutput"].execute(stream, 0.0).result[1]
    assert isinstance(video, frame_output.StreamVideo)
    known = inspect.signature(InputImpl.VideoFromComponents.save_to).parameters
    options = {name: value for name, value in (("crf", 30.0), ("bit_depth", 8)) if name in known}
    path = str(tmp_path / "saved.mp4")
    video.save_to(path, metadata={"prompt": "{}"}, **options)
    with av.open(path) as container:
        assert container.streams.video[0].frames in (0, 4) and len(list(container.decode(video=0))) == 4
        assert json.loads(container.metadata["streamdit"])["stream_id"] == "s"
