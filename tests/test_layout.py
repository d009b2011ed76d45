"""The layout keeps its layers: every import in the package points down (or sideways within a
folder), never up, so that the command line can change without touching the library."""

import ast
from pathlib import Path

import ntm_cli

PACKAGE = Path(ntm_cli.__file__).parent
# From the top down; the base (config, runs, schema, settings, errors, lazy, models, tasks,
# experiments) is below them all.
LAYERS = ("cli", "studies", "reports", "training")


def _layer(module: str) -> int:
    """cli 4, studies 3, reports 2, training 1, the base 0."""
    parts = module.split(".")
    folder = parts[1] if len(parts) > 1 and parts[0] == "ntm_cli" else None
    return len(LAYERS) - LAYERS.index(folder) if folder in LAYERS else 0


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of ntm_cli in a file, those inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "ntm_cli"]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("ntm_cli")]


def _module(path: Path) -> str:
    return ".".join(("ntm_cli", *path.relative_to(PACKAGE).with_suffix("").parts))


def _sources() -> list[tuple[str, Path]]:
    """(module, path) for the package and the base folders installed under it: the tasks and the
    presets (not the benchmark scripts, which may use anything)."""
    root = PACKAGE.parent
    extra = [("ntm_cli.tasks." + p.stem, p) for p in (root / "tasks").glob("*.py")]
    extra += [("ntm_cli.experiments." + p.stem, p) for p in (root / "experiments").glob("*.py")]
    return [(_module(p), p) for p in sorted(PACKAGE.rglob("*.py"))] + extra


def test_every_import_points_down_the_layers():
    """The package's own __init__ is the public face (`ntm_cli.load_run`): it may reach into any
    layer, inside functions only (importing ntm_cli stays light), and the rest take nothing from it
    but `__version__`."""
    upward = []
    for module, path in _sources():
        if module == "ntm_cli.__init__":
            top = [n for n in ast.parse(path.read_text(encoding="utf-8")).body
                   if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("ntm_cli")
                   or isinstance(n, ast.Import) and any(a.name.startswith("ntm_cli") for a in n.names)]
            assert not top, f"{path} imports the package at its top; import inside the function"
            continue
        facade = [name for _, name in _imports(path) if name == "ntm_cli.load_run"]
        assert not facade, f"{path} takes load_run from the package's public face; import it from its layer"
        here = _layer(module)
        for line, name in _imports(path):
            if _layer(name) > here:
                upward.append(f"{path}:{line} imports {name}")
    assert upward == [], "imports that run up the layers:\n" + "\n".join(upward)


def test_the_layer_rule_sees_an_upward_import(tmp_path):
    """The check itself: a library module that imports the command line is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ntm_cli.cli.output import fail\n")
    assert [_layer(name) for _, name in _imports(bad)] == [4]
    assert _layer(_module(PACKAGE / "training" / "trainer.py")) == 1
    assert _layer("ntm_cli.config") == 0 and _layer("ntm_cli.reports.results") == 2


def test_the_package_folders_are_the_layers_and_the_base():
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == sorted([*LAYERS, "models"])
