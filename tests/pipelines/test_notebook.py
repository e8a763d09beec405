"""``loopml pipeline convert``: notebooks with cells tagged ``step`` become pipeline modules that
run with ``loopml pipeline run`` and give the notebook's results."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopml.errors import Conflict, InvalidInput
from loopml.pipelines.notebook import convert_notebook, notebook_to_pipeline
from loopml.pipelines.notebook_analysis import analyze, strip_magics
from loopml.pipelines.targets import load_target

NOTEBOOKS = Path(__file__).parent / "notebooks"


def code(source: str, *tags: str) -> dict[str, Any]:
    metadata = {"tags": list(tags)} if tags else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def markdown(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(*cells: dict[str, Any]) -> dict[str, Any]:
    kernel = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return {"cells": list(cells), "metadata": {"kernelspec": kernel}, "nbformat": 4}


def write(folder: Path, name: str, document: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def execute(path: Path, **overrides: Any) -> dict[str, Any]:
    """Run the notebook's code cells in order in a fresh namespace, the way Jupyter would;
    ``overrides`` are injected after the parameters cell, as papermill does."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        exec("\n".join(x for x in lines if not x.lstrip().startswith(("%", "!"))), namespace)
        if "parameters" in cell["metadata"].get("tags", []):
            namespace.update(overrides)
    return namespace


def convert(document: dict[str, Any], name: str = "flow"):
    return notebook_to_pipeline(document, name=name, label="nb.ipynb")


def step_of(report, name: str):
    return next(s for s in report.steps if s.name == name)


# -- end to end -----------------------------------------------------------------------------
def test_notebook_becomes_a_pipeline_that_reproduces_its_accuracy(tmp_path):
    source = shutil.copy(NOTEBOOKS / "breast_cancer.ipynb", tmp_path / "analysis.ipynb")
    report = convert_notebook(source)

    output = tmp_path / "analysis_pipeline.py"
    assert report.output == str(output) and output.is_file()
    assert report.target == f"{output}:analysis"
    assert [(s.name, s.inputs, s.outputs) for s in report.steps] == [
        ("load_data", (), ("X", "y")),
        (
            "compute_X_train",
            ("X", "y", "test_size", "random_state"),
            ("X_train", "X_test", "y_train", "y_test"),
        ),
        ("train", ("C", "X_train", "y_train"), ("model",)),
        ("evaluate", ("model", "X_test", "y_test"), ("predictions", "accuracy")),
    ]
    assert report.parameters == {"C": 0.5, "test_size": 0.25, "random_state": 0}
    assert "def analysis(C: float = 0.5, test_size: float = 0.25, random_state: int = 0):" in (
        report.source
    )
    pipeline = load_target(report.target)
    for C in (0.5, 0.01):
        expected = execute(source, C=C)["accuracy"]
        result = pipeline.run(C=C)
        assert result.status == "FINISHED"
        assert result.output["accuracy"] == pytest.approx(expected, abs=0)
    assert execute(source, C=0.5)["accuracy"] != execute(source, C=0.01)["accuracy"]


def test_generated_module_runs_with_the_command_line(tmp_path):
    source = shutil.copy(NOTEBOOKS / "breast_cancer.ipynb", tmp_path / "analysis.ipynb")
    report = convert_notebook(source, tmp_path / "flow.py")
    env = {**os.environ, "LOOPML_HOME": str(tmp_path / "cli-home")}
    for name in ("LOOPML_STORE", "LOOPML_ARTIFACTS", "LOOPML_EXPERIMENT"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "loopml.cli.main", "pipeline", "run", "flow.py:analysis"]
        + ["--param", "C=0.1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "FINISHED" in done.stdout
    assert report.pipeline == "analysis"


def test_tricky_cells_are_wired_by_name_and_give_the_notebook_result(tmp_path):
    source = shutil.copy(NOTEBOOKS / "tricky_names.ipynb", tmp_path / "tricky.ipynb")
    report = convert_notebook(source, tmp_path / "tricky_flow.py")
    wiring = {s.name: (s.inputs, s.outputs) for s in report.steps}
    assert wiring == {
        "start": ((), ("total", "items", "x", "records")),
        # augmented assignment reads and redefines
        "accumulate": (("total", "items"), ("total",)),
        # loop targets are defined; the parameter comes in as an argument
        "loop": (("items", "scale"), ("item", "last")),
        # the comprehension's `x` is its own; `records.append` changes records in place
        "comprehend": (("items", "records"), ("squares", "records")),
        # read before being assigned in the same cell: an input and an output
        "reassign": (("total",), ("y", "total")),
        # `x` comes from `start` (the comprehension did not leak it); `tmp` was deleted
        "collect": (("last", "item", "total", "y", "x", "records", "squares"), ("note", "result")),
    }
    assert report.returns == ["note", "result"]
    pipeline = load_target(report.target)
    for scale in (2, 5):
        expected = execute(source, scale=scale)["result"]
        assert pipeline.run(scale=scale).output["result"] == expected
    assert expected["note"] == "two\nlines"  # a multi-line string keeps its text when indented


# -- name analysis ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cell", "reads", "defines"),
    [
        ("total += x\ncount = 0", ["total", "x"], ["total", "count"]),
        (
            "for i in items:\n    acc = acc + i\nlast = i",
            ["items", "acc", "i"],
            ["i", "acc", "last"],
        ),
        ("squares = [v * v for v in values if v > k]", ["values", "k"], ["squares"]),
        ("y = x\nx = 2", ["x"], ["y", "x"]),
        ("del old\nnew = 1", ["old"], ["new"]),
        ("tmp = a\nb = tmp\ndel tmp", ["a"], ["b"]),
        ("with open(p) as fh:\n    data = fh.read()", ["open", "p"], ["fh", "data"]),
        ("def f(a):\n    return a + scale\nscale = 2", [], ["f", "scale"]),
        ("g = lambda q: q + offset", ["offset"], ["g"]),
        ("import numpy as np, os.path\nfrom m import a as b", [], ["np", "os", "b"]),
        ("n = [(m := v) for v in vs]", ["vs"], ["m", "n"]),
        ("if c:\n    z = 1\nprint(z)", ["c", "print", "z"], ["z"]),
    ],
)
def test_reads_and_definitions_of_a_cell(cell, reads, defines):
    names = analyze(ast.parse(cell).body, cell)
    assert names.reads == reads
    assert sorted(names.defines) == sorted(defines)


def test_a_name_read_where_the_cell_may_have_bound_it_is_a_soft_read():
    cell = "for i in items:\n    acc = acc + i\nlast = i\nif c:\n    z = 1\nprint(z)"
    names = analyze(ast.parse(cell).body, cell)
    assert names.soft_reads == {"i", "z"}
    report = convert(
        notebook(
            code("i = 0\nitems = [1]"),
            code("items = [1, 2]", "step"),
            code("for i in items:\n    pass\nlast = i", "step"),
        )
    )  # the untagged `i = 0` matters only for an empty loop: a warning, not a failure
    assert report.steps[1].inputs == ("items",)
    assert any("keeps the value untagged cell 1 gave `i`" in w for w in report.warnings)


def test_in_place_changes_are_seen():
    cell = "df['a'] = 1\nmodel.fit(X, y)\nframe.dropna(inplace=True)\nlog.append(3)\ndf.head()"
    names = analyze(ast.parse(cell).body, cell)
    assert set(names.modifies) == {"df", "model", "frame"}
    assert set(names.may_modify) == {"log"}


def test_magics_are_stripped():
    text, removed, not_python = strip_magics(
        "%matplotlib inline\n!pip install x\nfiles = !ls\nfor i in r:\n    %timeit f(i)\ndf?\n"
        "%time y = f(2)"
    )
    assert not not_python
    assert removed == [
        "%matplotlib inline",
        "!pip install x",
        "files = !ls",
        "%timeit f(i)",
        "df?",
        "%time",
    ]
    assert ast.unparse(ast.parse(text)) == "for i in r:\n    pass\ny = f(2)"
    assert strip_magics("%%time\nx = 1")[0].strip() == "x = 1"
    assert strip_magics("%%bash\nls")[2] is True


# -- generated module ---------------------------------------------------------------------
def test_imports_are_hoisted_once_and_never_passed_as_inputs():
    report = convert(
        notebook(
            code("import numpy as np\n%matplotlib inline\nimport math"),
            code("import numpy as np\nimport json; values = np.arange(4).tolist()", "step"),
            code("def double(v):\n    return [2 * x for x in v]\n\nprint('helper ready')"),
            code("import math\nout = double(values)\nroot = math.sqrt(out[-1])", "step"),
        )
    )
    module = ast.parse(report.source)
    imports = [ast.unparse(s) for s in module.body if isinstance(s, ast.Import | ast.ImportFrom)]
    assert imports == ["import loopml as ml", "import numpy as np", "import math", "import json"]
    functions = {s.name: s for s in module.body if isinstance(s, ast.FunctionDef)}
    assert "double" in functions and not functions["double"].decorator_list  # hoisted plain
    assert [(s.inputs, s.outputs) for s in report.steps] == [
        ((), ("values",)),
        (("values",), ("out", "root")),
    ]
    assert report.source.startswith('"""Pipeline generated from nb.ipynb')
    assert "# from cell 3" in report.source
    step_bodies = [f for f in functions.values() if f.decorator_list]
    assert not any(isinstance(s, ast.Import) for f in step_bodies for s in ast.walk(f))
    assert any("stripped IPython magic `%matplotlib inline`" in n for n in report.notes)
    assert [(d.cell, d.reason) for d in report.dropped] == [(3, "prints (`print('helper ready')`)")]


def test_steps_with_several_outputs_return_a_tuple_and_run(tmp_path):
    document = notebook(
        code("low, high = 1, 10", "parameters"),
        code("# step: bounds\nlo = low * 2\nhi = high * 2\nmid = (lo + hi) // 2", "step"),
        code("# step: span\nwidth = hi - lo", "step"),
        code("print(mid)"),
    )
    path = write(tmp_path, "spans.ipynb", document)
    report = convert_notebook(path)
    assert "@ml.step(outputs=3)\ndef bounds(low, high):" in report.source
    assert "    lo, hi, mid = bounds(low, high)" in report.source
    assert "    return lo, hi, mid\n" in report.source
    assert report.returns == ["mid", "width"]  # `mid` is read only by an untagged cell
    result = load_target(report.target).run(high=20).output
    assert result == {"mid": 21, "width": 38}


def test_functions_of_tagged_cells_move_to_module_level_when_self_contained(tmp_path):
    document = notebook(
        code("import math"),
        code(
            "def norm(v):\n    return math.sqrt(sum(x * x for x in v))\n\n"
            "factor = 3\n\ndef scaled(v):\n    return [factor * x for x in v]\n\n"
            "vector = scaled([3, 4])",
            "step",
        ),
        code("length = norm(vector)", "step"),
    )
    report = convert_notebook(write(tmp_path, "helpers.ipynb", document), trusted=True)
    module = ast.parse(report.source)
    top_level = [s.name for s in module.body if isinstance(s, ast.FunctionDef)]
    assert top_level[0] == "norm"  # hoisted: it only needs `math`
    assert "scaled" not in top_level  # reads the cell's `factor`: stays inside its step
    assert "@ml.step(trusted=True)" in report.source
    assert [s.inputs for s in report.steps] == [(), ("vector",)]
    assert load_target(report.target).run().output == {"length": 15.0}


def test_outputs_comment_chooses_what_a_step_returns():
    report = convert(
        notebook(
            code("# outputs: extra\nbase = 2\nextra = base * 10", "step"),
            code(
                "# step: final\n# outputs: score\nscratch = base + 1\nscore = scratch * 2", "step"
            ),
        )
    )
    assert [s.outputs for s in report.steps] == [("base", "extra"), ("score",)]
    assert report.returns == ["extra", "score"]
    with pytest.raises(InvalidInput, match="`# outputs:` names `nope`"):
        convert(notebook(code("# outputs: nope\na = 1", "step")))


def test_the_default_pipeline_name_comes_from_the_file_and_avoids_clashes():
    report = notebook_to_pipeline(
        notebook(code("def my_study():\n    return 1"), code("a = my_study()", "step")),
        label="My Study.ipynb",
    )
    assert report.pipeline == "my_study_pipeline"
    with pytest.raises(InvalidInput, match="pipeline name 'my_study' is also an import"):
        notebook_to_pipeline(
            notebook(code("def my_study():\n    return 1"), code("a = my_study()", "step")),
            name="my_study",
        )


def test_cell_code_is_kept_as_written_and_runs(tmp_path):
    document = notebook(
        code("import math; base = math.floor(2.5)  # shares a line with an import", "step"),
        code(
            "# a comment that stays\ntext = '''first\n    indented\nlast'''\n"
            "for i in range(2):\n\tbase = base + i  # tab-indented\n%time twice = base * 2",
            "step",
        ),
    )
    path = write(tmp_path, "kept.ipynb", document)
    report = convert_notebook(path)
    assert "\t# a comment that stays\n" in report.source
    assert "\ttext = '''first\n    indented\nlast'''\n" in report.source
    expected = {"text": "first\n    indented\nlast", "i": 1, "base": 3, "twice": 6}
    namespace: dict[str, Any] = {}
    for cell in document["cells"]:
        exec(strip_magics("".join(cell["source"]))[0], namespace)
    assert {k: namespace[k] for k in expected} == expected
    assert load_target(report.target).run().output == expected


def test_parameters_become_typed_arguments_with_defaults():
    report = convert(
        notebook(
            code("n: int = 3\nrate = 0.5\nname = 'rf'\nfast = True\nextra = None", "parameters"),
            code("result = [name] * n if fast else rate", "step"),
        )
    )
    assert (
        "def flow(n: int = 3, rate: float = 0.5, name: str = 'rf', fast: bool = True, "
        "extra=None):" in report.source
    )
    assert report.steps[0].inputs == ("fast", "name", "n", "rate")  # evaluation order
    assert any("extra=None is not read by any step" in n for n in report.notes)


def test_untagged_cells_with_side_effects_are_reported():
    report = convert(
        notebook(
            markdown("# title"),
            code("data = [3, 1, 2]", "step"),
            code("data.sort()\nsorted_copy = sorted(data)"),
            code("with open('out.txt', 'w') as fh:\n    fh.write(str(data))"),
            code("import random\nrandom.seed(0)"),
            code("%%bash\necho hi"),
            code("total = sum(data)", "step"),
        )
    )
    dropped = {d.cell: d for d in report.dropped}
    assert set(dropped) == {3, 4, 5, 6}
    assert "may change `data` in place (`data.sort()`), which step" in dropped[3].reason
    assert "assigns `sorted_copy`, which no step reads" in dropped[3].reason
    assert "writes a file" in dropped[4].reason
    assert "sets a random seed" in dropped[5].reason
    assert "cell magic" in dropped[6].reason
    assert dropped[3].first_line == "data.sort()"


def test_a_step_without_outputs_is_warned_about():
    report = convert(
        notebook(
            code("a = 1", "step"),
            code("scratch = a * 3", "step"),
            code("b = a + 1", "step"),
        )
    )
    assert step_of(report, "step_2").outputs == ()
    assert any(
        "step `step_2` (cell 2) has no outputs" in w and "`scratch`" in w for w in report.warnings
    )


def test_step_names_are_unique_and_explicit_ones_checked():
    report = convert(
        notebook(
            code("model = 1", "step"),
            code("compute_model = model + 1\nmodel = 2", "step"),
            code("value = model + compute_model", "step"),
        )
    )
    assert [s.name for s in report.steps] == [
        "compute_model_2",
        "compute_compute_model",
        "compute_value",
    ]
    with pytest.raises(InvalidInput, match="step name 'value'.*cell 2"):
        convert(notebook(code("value = 1", "step"), code("# step: value\nother = value", "step")))
    with pytest.raises(InvalidInput, match="not a Python name"):
        convert(notebook(code("# step: 2fast\nvalue = 1", "step")))


def test_cell_tags_are_read_where_jupyter_and_others_write_them():
    nested = code("a = 1")
    nested["metadata"] = {"metadata": {"tags": ["step"]}}
    named = code("b = a + 1")
    named["metadata"] = {"tags": ["step:increment"]}
    report = convert(notebook(nested, named))
    assert [s.name for s in report.steps] == ["compute_a", "increment"]


# -- refusals -----------------------------------------------------------------------------
def test_an_untagged_assignment_a_step_needs_fails_naming_variable_and_cell():
    document = notebook(
        markdown("intro"),
        code("a = 1", "step"),
        code("b = a + 1"),
        code("c = b * 2", "step"),
    )
    with pytest.raises(InvalidInput) as caught:
        convert(document)
    message = str(caught.value)
    assert "cell 3 (`b = a + 1`) is not tagged 'step' but defines `b`" in message
    assert "step `compute_c` (cell 4) reads" in message
    with pytest.raises(InvalidInput, match=r"cell 2 .* modifies `frame`"):
        convert(
            notebook(
                code("frame = {'a': 1}", "step"),
                code("frame['b'] = 2"),
                code("keys = sorted(frame)", "step"),
            )
        )


def test_a_notebook_without_tagged_cells_is_refused():
    with pytest.raises(InvalidInput, match="no cells tagged 'step'"):
        convert(notebook(code("a = 1"), code("b = a")))


def test_malformed_notebooks_are_refused_naming_the_file(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    with pytest.raises(InvalidInput, match=r"broken\.ipynb is not a notebook: not valid JSON"):
        convert_notebook(broken)
    empty = write(tmp_path, "empty.ipynb", {"metadata": {}, "nbformat": 4})
    with pytest.raises(InvalidInput, match=r"empty\.ipynb is not a notebook: it has no list"):
        convert_notebook(empty)
    bad_cell = write(tmp_path, "bad.ipynb", notebook(code("x = (", "step")))
    with pytest.raises(InvalidInput, match=r"cell 1 \(`x = \(`\) does not parse"):
        convert_notebook(bad_cell)
    r_kernel = notebook(code("x <- 1", "step"))
    r_kernel["metadata"]["kernelspec"]["language"] = "R"
    with pytest.raises(InvalidInput, match="R notebook"):
        convert_notebook(write(tmp_path, "r.ipynb", r_kernel))


def test_bad_parameters_cells_are_refused():
    with pytest.raises(InvalidInput, match=r"cell 1 is tagged parameters but `path = base \+ 'x'`"):
        convert(notebook(code("path = base + 'x'", "parameters"), code("a = path", "step")))
    with pytest.raises(InvalidInput, match="parameter 'cache'.*clashes"):
        convert(notebook(code("cache = True", "parameters"), code("a = cache", "step")))


def test_an_existing_output_is_not_replaced_unless_asked(tmp_path):
    path = write(tmp_path, "nb.ipynb", notebook(code("a = 1", "step")))
    target = tmp_path / "nb_pipeline.py"
    target.write_text("# mine\n")
    with pytest.raises(Conflict, match="already exists; pass --force"):
        convert_notebook(path)
    assert target.read_text() == "# mine\n"
    report = convert_notebook(path, overwrite=True, pipeline_name="custom")
    assert "def custom():" in target.read_text() and report.pipeline == "custom"
    with pytest.raises(InvalidInput, match=r"must be a \.py file"):
        convert_notebook(path, tmp_path / "out.txt")


def test_command_line_convert(tmp_path):
    from typer.testing import CliRunner

    from loopml.cli.pipelines import pipeline_app

    if not any(c.name == "convert" for c in pipeline_app.registered_commands):
        pytest.skip("`loopml pipeline convert` is not registered in loopml.cli.pipelines yet")
    source = shutil.copy(NOTEBOOKS / "breast_cancer.ipynb", tmp_path / "analysis.ipynb")
    runner = CliRunner()
    first = runner.invoke(pipeline_app, ["convert", str(source), "--name", "study"])
    assert first.exit_code == 0, first.output
    assert "pipeline 'study', 4 steps" in first.output
    assert "cell 5 `X.describe()`" in first.output
    again = runner.invoke(pipeline_app, ["convert", str(source)])
    assert again.exit_code != 0 and "already exists" in str(again.exception)
    forced = runner.invoke(pipeline_app, ["convert", str(source), "--force", "--json"])
    assert json.loads(forced.output)["target"].endswith("analysis_pipeline.py:analysis")
