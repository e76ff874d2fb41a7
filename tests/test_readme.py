"""The README's library examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def library_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The library"):text.index("### Things these templates")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_library_examples_run_as_written(tmp_path, monkeypatch):
    examples = library_examples()
    assert len(examples) >= 2
    monkeypatch.chdir(tmp_path)  # the first example saves model.keras where it runs
    scope: dict = {}
    for code in examples:
        exec(compile(code, str(README), "exec"), scope)
    assert (tmp_path / "model.keras").is_file()
    assert scope["pieces"].shape == (4, 30)
    assert ((scope["pieces"] >= 0) & (scope["pieces"] < 40)).all()
    assert scope["stateful"].optimizer.clipnorm == 1.0
    # reset_states zeroed the state the truncated BPTT run left behind
    carried = [layer for layer in scope["stateful"].layers if getattr(layer, "stateful", False)]
    assert carried
    for layer in carried:
        assert not np.any(np.asarray(layer.states[0]))
