"""The layers import only downward, and the docs name every module of the tree."""
import ast
import os
import re

import pytest

from conftest import ROOT

COMFY = {"comfy", "comfy_api", "comfy_execution", "comfy_extras", "folder_paths", "server", "execution", "nodes",
         "aiohttp"}
LAYERS = {"engine": set(), "native": {"engine"}, "lab": {"engine", "native"}}   # what each may import


def modules(folder: str) -> list[str]:
    """Python files under ``folder`` of the pack, as paths relative to the pack root."""
    found = []
    for base, _, files in os.walk(os.path.join(ROOT, folder)):
        found += [os.path.relpath(os.path.join(base, f), ROOT) for f in files if f.endswith(".py")]
    return sorted(found)


def imports(path: str, root: str = ROOT) -> set[str]:
    """Absolute names of every module ``path`` (relative to ``root``) imports, relative imports resolved."""
    package = os.path.dirname(path).replace(os.sep, ".").split(".")
    names = set()
    for node in ast.walk(ast.parse(open(os.path.join(root, path)).read())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            names.add(".".join([*base, *([node.module] if node.module else [])]))
    return names


@pytest.mark.parametrize("path", modules("stream_core"))
def test_the_engine_layers_import_only_downward_and_nothing_from_comfyui(path):
    layer = path.split(os.sep)[1] if path.count(os.sep) > 1 else None
    for name in imports(path):
        assert name.split(".")[0] not in COMFY, f"{path} imports {name}: stream_core stands without ComfyUI"
        if name.startswith("stream_core.") and layer is not None:
            target = name.split(".")[1]
            assert target == layer or target in LAYERS[layer], f"{path} ({layer}) imports {name}"


@pytest.mark.parametrize("path", modules("nodes"))
def test_nodes_never_import_the_lab(path):
    assert not any(name.startswith("stream_core.lab") for name in imports(path)), path


WIRES = {"nodes.types", "nodes.validation", "nodes.comfy_nodes"}
NODE_PARTS = ["wires", "live", "run", "nodes", "wan", "extension"]   # lowest first: each imports only those below


def node_part(module: str) -> str:
    """Which part of the ComfyUI layer ``module`` ("nodes.live.hub") belongs to."""
    parts = module.split(".")
    if module == "nodes":
        return "extension"
    if module in WIRES:
        return "wires"
    return parts[1] if parts[1] in NODE_PARTS else "nodes"


@pytest.mark.parametrize("path", modules("nodes"))
def test_the_comfyui_layer_imports_only_downward(path):
    """wan -> the kind-neutral nodes -> run -> live -> the wires: the native nodes never pull in
    Wan, the live transport never a run."""
    module = path[:-3].replace(os.sep, ".").removesuffix(".__init__")
    rank = NODE_PARTS.index(node_part(module))
    for name in imports(path):
        if name.split(".")[0] == "nodes" and name != module:
            assert NODE_PARTS.index(node_part(name)) <= rank, f"{module} ({node_part(module)}) imports {name}"


@pytest.mark.parametrize("path", modules("nodes"))
def test_comfyuis_own_nodes_module_is_reached_only_through_comfy_nodes(path):
    """The pack's folder and ComfyUI's module share the name ``nodes``: an absolute import of it
    anywhere but ``nodes/comfy_nodes.py`` would read as the pack's own."""
    source = open(os.path.join(ROOT, path)).read()
    absolute = {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    absolute |= {n.module for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) and n.level == 0}
    assert "nodes" not in absolute or path == os.path.join("nodes", "comfy_nodes.py"), path


def test_the_checker_sees_a_wrong_import(tmp_path):
    """The import walk resolves relative imports, so an upward one cannot hide."""
    os.makedirs(tmp_path / "stream_core" / "engine")
    (tmp_path / "stream_core" / "engine" / "probe.py").write_text("from ..native.model import StreamDiT\n"
                                                                 "from . import stream\nimport comfy.utils\n")
    found = imports(os.path.join("stream_core", "engine", "probe.py"), root=str(tmp_path))
    assert found == {"stream_core.native.model", "stream_core.engine", "comfy.utils"}


@pytest.mark.parametrize("doc", ["ARCHITECTURE.md", "README.md"])
def test_the_docs_name_every_module_and_only_modules_that_exist(doc):
    text = open(os.path.join(ROOT, doc)).read()
    named = set(re.findall(r"`((?:stream_core|nodes)/[\w/]+\.py)`", text))
    tree = {p.replace(os.sep, "/") for p in modules("stream_core") + modules("nodes")
            if not p.endswith("__init__.py")}
    assert named <= tree, f"{doc} names files that do not exist: {sorted(named - tree)}"
    assert tree <= named, f"{doc} does not name: {sorted(tree - named)}"


@pytest.mark.parametrize("package", ["stream_core/engine", "stream_core/native", "stream_core/lab"])
def test_each_packages_docstring_names_every_module_it_holds(package):
    text = open(os.path.join(ROOT, package, "__init__.py")).read()
    names = {os.path.basename(p)[:-3] for p in modules(package) if not p.endswith("__init__.py")}
    missing = sorted(n for n in names if f"``{n}``" not in text and f"`{n}`" not in text and f"{n}.py" not in text)
    assert not missing, f"{package}/__init__.py does not name {missing}"
