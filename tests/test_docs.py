"""The Python examples of docs/api.md run, in order, in one namespace."""
import pathlib
import re

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def test_api_examples_run():
    text = (DOCS / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    namespace = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/api.md[block {i}]", "exec"), namespace)


def test_guide_links_resolve():
    text = (DOCS / "guide.md").read_text()
    for target in re.findall(r"\]\(([\w-]+\.md)", text):
        assert (DOCS / target).exists(), target
