import copy
import dataclasses

import pytest
import torch

from stream_core.native.checkpoint import read_config, save
from stream_core.lab.distill import distill, distill_loss, segment_starts
from stream_core.native.model import StreamDiT
from stream_core.lab.train import default_config
from stream_core.lab.world import World


def setup(seed=0):
    torch.manual_seed(seed)
    cfg = dataclasses.replace(default_config(), dim=48, depth=2, heads=4, text_dim=32, text_depth=1)
    teacher = StreamDiT(cfg).eval()
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.05)   # leave zero-init so the teacher is not trivial
    clips, captions = World(seed=0).batch([0, 1, 2, 3])
    g = torch.Generator().manual_seed(1)
    start, length = segment_starts(4, 8, (1, 2, 4, 8), g)
    return teacher, clips, captions, start, length, torch.randn(clips.shape, generator=g)


def test_segments_tile_time_from_noise_to_clean():
    start, length = segment_starts(50, 8, (1, 2, 4, 8), torch.Generator().manual_seed(0))
    assert torch.all(start >= 0) and torch.all(start + length <= 1 + 1e-6)
    assert torch.allclose((start + length)[:, 0], torch.ones(50))        # the cleanest chunk ends clean


def test_reference_frames_stay_clean_and_the_chunks_share_the_rest():
    start, length = segment_starts(3, 8, (2,), torch.Generator().manual_seed(0), references=(2,))
    torch.testing.assert_close(start[0], torch.tensor([1, 1] + [2 / 3] * 2 + [1 / 3] * 2 + [0, 0]))
    torch.testing.assert_close(length[0], torch.tensor([0, 0] + [1 / 3] * 6))
    mixed, _ = segment_starts(40, 8, (2,), torch.Generator().manual_seed(0), references=(0, 2))
    assert {int((row == 1).sum()) for row in mixed} == {0, 2}


def test_a_share_of_start_up_buffers_puts_every_frame_at_one_level():
    g = torch.Generator().manual_seed(0)
    start, length = segment_starts(200, 8, (2,), g, references=(0, 2), uniform=0.25)
    flat = [bool((row == row[0]).all()) for row in start]
    assert 30 <= sum(flat) <= 70                                           # about a quarter
    levels = {round(float(row[0]), 4) for row, f in zip(start, flat) if f}
    assert levels == {0.0, 0.25, 0.5, 0.75, round(1 / 3, 4), round(2 / 3, 4)}   # k / N for N = 4 (K = 0) and 3 (K = 2)
    steps = [row for row, f in zip(length, flat) if f]
    assert all(bool((row == row[0]).all()) for row in steps)                 # one step for all frames
    assert {round(float(row[0]), 4) for row in steps} == {0.25, round(1 / 3, 4)}   # of 1 / N
    assert torch.equal(segment_starts(5, 8, (2,), torch.Generator().manual_seed(3))[0],
                       segment_starts(5, 8, (2,), torch.Generator().manual_seed(3), uniform=0.0)[0])


def test_one_unguided_teacher_step_is_what_the_initial_student_does():
    teacher, clips, captions, start, length, noise = setup()
    student = copy.deepcopy(teacher)
    loss = distill_loss(student, teacher, clips, captions, start, length, noise, micro_steps=1, guidance=1.0)
    assert loss.item() < 1e-10


def test_a_few_steps_lower_the_distillation_loss():
    teacher, clips, captions, start, length, noise = setup()
    student = copy.deepcopy(teacher).train()
    opt = torch.optim.AdamW(student.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss = distill_loss(student, teacher, clips, captions, start, length, noise, micro_steps=4, guidance=3.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0 and losses[-1] < 0.7 * losses[0], losses


def test_the_student_learns_only_the_chunk_sizes_asked_for(tmp_path):
    teacher = setup()[0]
    save(teacher, tmp_path / "teacher.safetensors")
    with pytest.raises(ValueError, match="divide the buffer of 8"):
        distill(str(tmp_path / "teacher.safetensors"), str(tmp_path / "bad.safetensors"), steps=1, chunk_sizes=(3,))
    with pytest.raises(ValueError, match="less the K = 2 reference frames"):
        distill(str(tmp_path / "teacher.safetensors"), str(tmp_path / "bad.safetensors"), steps=1, chunk_sizes=(4,),
                references=(0, 2))
    assert not (tmp_path / "bad.safetensors").exists()
    distill(str(tmp_path / "teacher.safetensors"), str(tmp_path / "student.safetensors"), steps=1, batch=2,
            chunk_sizes=(2,), references=(0, 2))
    metadata = read_config(tmp_path / "student.safetensors")[1]
    assert (metadata["distill.chunk_sizes"], metadata["distill.references"]) == ("2", "0 2")
