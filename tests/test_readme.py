"""The README's library examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"
RESET = "rt.reset_states(stateful)"


def library_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The library"):text.index("### Things these templates")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def carried_states(model) -> list[np.ndarray]:
    layers = [layer for layer in model.layers if getattr(layer, "stateful", False)]
    assert layers
    return [np.asarray(state) for layer in layers for state in layer.states]


def test_the_library_examples_run_as_written(tmp_path, monkeypatch):
    examples = library_examples()
    assert len(examples) >= 2 and RESET in examples[-1]
    monkeypatch.chdir(tmp_path)  # the first example saves model.keras where it runs
    scope: dict = {}
    before_reset, after_reset = examples[-1].split(RESET)
    for code in [*examples[:-1], before_reset]:
        exec(compile(code, str(README), "exec"), scope)
    assert (tmp_path / "model.keras").is_file()
    assert scope["pieces"].shape == (4, 30)
    assert ((scope["pieces"] >= 0) & (scope["pieces"] < 40)).all()
    assert scope["captions"].shape == (3, 12)
    assert scope["o2m"].predict(scope["vectors"][:2], verbose=0).shape == (2, 10, 4)
    assert scope["stateful"].optimizer.clipnorm == 1.0
    # the prediction left a state behind, and the README's reset zeroes it
    assert any(np.any(state) for state in carried_states(scope["stateful"]))
    exec(compile(RESET + after_reset, str(README), "exec"), scope)
    assert not any(np.any(state) for state in carried_states(scope["stateful"]))
