import pytest
import torch

from stream_core.native.conditioning import TextVelocity
from stream_core.engine.timeline import PromptTimeline, ScheduleError, parse_schedule


def test_schedule_parses_and_sorts():
    text = "# intro\n48: a blue square falling\n\n0:  a red ball rolling right  \n"
    assert parse_schedule(text) == ((0, "a red ball rolling right"), (48, "a blue square falling"))


@pytest.mark.parametrize("text, message", [
    ("0: a\nno colon here", "line 2: expected 'frame: prompt'"),
    ("0: a\n5:", "line 2: the prompt after '5:' is empty"),
    ("-3: a", "line 1: frame must be >= 0"),
    ("0: a\n0: b", "line 2: frame 0 already has a prompt"),
    ("\n# only a comment\n", "the schedule is empty"),
    ("0: " + "x" * 1001, "line 1: prompt longer than 1000"),
    ("1234567890123: a", r"line 1: frame must be >= 0 and <= 1000000000, got a number of 13 digits"),
    ("0: a\n" + "9" * 5000 + ": b", r"line 2: frame must be >= 0 and <= 1000000000, got a number of 5000 digits"),
])
def test_bad_schedule_lines_are_named(text, message):
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text)


def test_weights_blend_over_the_transition():
    t = PromptTimeline(((0, "a"), (10, "b")), transition=3)
    w = t.weights(torch.tensor([-2, 0, 9, 10, 11, 12, 13, 50]))
    assert w[:, 1].tolist() == pytest.approx([0, 0, 0, 0.25, 0.5, 0.75, 1, 1])
    assert w.sum(1).tolist() == pytest.approx([1.0] * 8)
    assert t.prompt_at(11) == "b" and t.prompt_at(3) == "a"


def test_switch_replaces_the_future_only():
    t = PromptTimeline(((0, "a"), (10, "b"), (30, "c")))
    s = t.switched("  d ", at_frame=20)
    assert s.entries == ((0, "a"), (10, "b"), (20, "d"))
    with pytest.raises(ScheduleError, match="empty"):
        t.switched("   ", 5)


def test_text_velocity_context_follows_the_timeline(model):
    t = PromptTimeline(((0, "a red ball"), (4, "a blue square")), transition=0)
    velocity = TextVelocity(model, t)
    ctx = velocity.context(torch.arange(8))
    red, blue = model.encode(["a red ball", "a blue square"])
    torch.testing.assert_close(ctx[3], red)
    torch.testing.assert_close(ctx[4], blue)
    velocity.switch("a red square zebra", 2)
    assert velocity.unknown_words() == ["zebra"]
    torch.testing.assert_close(velocity.context(torch.arange(8))[5], model.encode(["a red square zebra"])[0])


@pytest.mark.parametrize("brk", ["\n", "\r", "\u2028", "\u2029", "\x85", "\x0b"])
def test_a_live_prompt_is_one_line(brk):
    """A line break in a live re-prompt would become a second schedule entry when the timeline
    is copied back into a schedule: it is refused, naming the character."""
    timeline = PromptTimeline(((0, "a red circle"),))
    with pytest.raises(ScheduleError, match=f"one line: it has a line break \\(U\\+{ord(brk):04X}\\)"):
        timeline.switched(f"a red circle{brk}16: a blue square moving left", 8)
    assert timeline.switched("a blue square\tmoving left", 8).entries[-1] == (8, "a blue square\tmoving left")
