"""A batch card's words over a real batch: never more at once than it has, no 'so far' when done."""

from __future__ import annotations

import re
from pathlib import Path

from kirin_jupyter.client import Client
from kirin_jupyter.display import batch_card
from kirin_jupyter.simulator.service import SimulatorService


def test_a_batch_never_runs_more_at_once_than_it_has_and_is_not_costing_so_far_when_done(
        tmp_path: Path) -> None:
    client = Client(simulator=SimulatorService(task_seconds=1.5), output_dir=tmp_path / "out")
    prompts = [f"A lighthouse, study {n}" for n in range(6)]
    batch = client.batch(prompts, concurrency=14, aspect_ratio="1:1")
    try:
        live = batch_card.batch_html(batch, final=False)
        [at_once] = re.findall(r"(\d+) at once", live)
        assert 1 <= int(at_once) <= 6  # "14 at once" on 6 prompts, before (issue 22, D6)
        assert "cost so far $" in live
    finally:
        batch.wait(60)
    final = batch_card.batch_html(batch, final=True)
    assert "cost so far" not in final and "at once" not in final
    assert re.search(r"cost \$0\.24 of about \$0\.24 · took \d+ s", final), final
    # Each tile says which prompt it answers: its number and the start of its prompt.
    captions = re.findall(r'<span class="kirin-cap"[^>]*><b>#(\d+)</b> ([^<]*)</span>', final)
    assert [int(n) for n, _ in captions] == [1, 2, 3, 4, 5, 6]
    assert all(text.startswith("A lighthouse, study ") for _, text in captions)
    assert [t for _, t in captions][2] == "A lighthouse, study 2"
