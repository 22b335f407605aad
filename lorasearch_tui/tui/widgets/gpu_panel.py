"""The GPU pane: memory per GPU as a bar, utilization, temperature, power, the worker's own
memory and a short history; host memory with one clear line when there is no NVIDIA GPU."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from ...events import HardwareSampled, SearchState

_BAR = 14  # fits "[bar] 61.0/80.0 GiB" in the pane's 36 columns


def bar(used: int, total: int, width: int = _BAR) -> Text:
    """`[#########.....] 12.3/80.0 GiB`, red when nearly full."""
    share = used / total if total else 0.0
    filled = round(share * width)
    style = "red" if share > 0.9 else "yellow" if share > 0.75 else "green"
    text = Text("[")
    text.append("█" * filled, style=style)
    text.append("·" * (width - filled), style="dim")
    text.append(f"] {used / 2**30:.1f}/{total / 2**30:.1f} GiB")
    return text


def describe_sample(sample: HardwareSampled) -> Text:
    lines: list[Text] = []
    for gpu in sample.gpus:
        head = Text(f"GPU{gpu['index']} {gpu.get('name') or ''}".strip(), style="bold")
        lines.append(head)
        lines.append(bar(gpu["used_bytes"], gpu["total_bytes"]))
        extra = []
        if gpu.get("utilization") is not None:
            extra.append(f"util {gpu['utilization']}%")
        if gpu.get("temperature_c") is not None:
            extra.append(f"{gpu['temperature_c']}°C")
        if gpu.get("power_w") is not None:
            extra.append(f"{gpu['power_w']:.0f} W")
        if gpu.get("worker_bytes"):
            extra.append(f"worker {gpu['worker_bytes'] / 2**30:.1f} GiB")
        lines.append(Text("  ".join(extra)))
    if not sample.gpus:
        lines.append(Text(sample.note, style="yellow"))
        lines.append(Text("host ") + bar(sample.host_used_bytes, sample.host_total_bytes))
    if sample.worker_rss_bytes is not None:
        lines.append(Text(f"worker RSS {sample.worker_rss_bytes / 2**30:.2f} GiB"))
    return Text("\n").join(lines)


class GpuPanel(Vertical):
    """Latest hardware sample and the history of the memory that matters most."""

    _shape: tuple[int, ...] = ()  # the length of each line of the sample last shown

    def compose(self) -> ComposeResult:
        yield Static("waiting for the first sample...", id="gpu-text")
        yield Sparkline([], id="gpu-history")

    def show(self, state: SearchState) -> None:
        if not state.hardware:
            return
        text = describe_sample(state.hardware[-1])
        # A sample a second: a new layout only when a line's length changed (a narrow pane
        # wraps a long line, so the same number of lines may take another height).
        shape = tuple(len(line) for line in text.plain.splitlines())
        self.query_one("#gpu-text", Static).update(text, layout=shape != self._shape)
        self._shape = shape
        history = [
            (s.gpus[0]["used_bytes"] if s.gpus else s.worker_rss_bytes or s.host_used_bytes) / 2**30
            for s in state.hardware
        ]
        self.query_one("#gpu-history", Sparkline).data = history
