"""Kernel memory: the figures are read, and the client's calibrated share is taken out of the delta."""
from __future__ import annotations

from concbench.harness import kernel_memory
from concbench.harness.kernel_memory import COMPONENTS, MeminfoMeter


def test_system_figures_name_every_component():
    figures = kernel_memory.system_kernel_memory()
    assert set(COMPONENTS) <= set(figures)
    assert figures["slab"] > 0 and figures["pagetables"] > 0


def test_client_share_is_subtracted(monkeypatch):
    readings = iter([{"sock": 0, "slab": 1000, "kernel_stack": 0, "pagetables": 0},
                     {"sock": 0, "slab": 1000 + 2 * 10 * 300, "kernel_stack": 0, "pagetables": 0},   # 10 pairs
                     {"sock": 4096, "slab": 50_000, "kernel_stack": 16384, "pagetables": 8192},      # baseline
                     {"sock": 4096, "slab": 50_000 + 100 * (300 + 700), "kernel_stack": 16384 * 101,
                      "pagetables": 8192 + 4096}])
    monkeypatch.setattr(kernel_memory, "system_kernel_memory", lambda: next(readings))
    monkeypatch.setattr(kernel_memory, "process_page_tables", lambda pid: 0)
    meter = MeminfoMeter()
    assert meter.calibrate(lambda n: None, 10) == {"sock": 0.0, "slab": 300.0}
    meter.take_baseline(client_pid=1, held=10)
    share = meter.server_share(client_pid=1, held=110)
    assert share == {"sock": 0, "slab": 100 * 700, "kernel_stack": 16384 * 100, "pagetables": 4096}
