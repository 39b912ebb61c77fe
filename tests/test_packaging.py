"""The pack as the Comfy Registry, ComfyUI-Manager and ComfyUI's template browser read it:
pyproject.toml against the registry's specification and ComfyUI's own parser, requirements,
and the shipped templates' files and metadata."""
import json
import os
import re
import tomllib

import pytest
from PIL import Image

from comfy_server import PACK_NAME
from conftest import ROOT, WORKFLOWS, load_workflow, workflow_names

with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    PYPROJECT = tomllib.load(f)
with open(os.path.join(ROOT, "web", "templates.json")) as f:
    TEMPLATES = json.load(f)["templates"]
OWN_MODELS = set(os.listdir(os.path.join(ROOT, "models")))


def test_pyproject_meets_the_registry_specification():
    project, comfy = PYPROJECT["project"], PYPROJECT["tool"]["comfy"]
    # name: < 100 characters, letters, digits, - _ . only, no two special characters in a row, starts with a letter
    assert re.fullmatch(r"[A-Za-z](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9]))*", project["name"]) and len(project["name"]) < 100
    assert "comfyui" not in project["name"].lower()
    assert project["name"] == PACK_NAME            # the registry id is the folder the tests install into
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])            # semantic version X.Y.Z
    assert os.path.isfile(os.path.join(ROOT, project["license"]["file"]))
    assert project["description"] and project["urls"]["Repository"].startswith("https://github.com/")
    assert re.fullmatch(r"[a-z][a-z0-9-]*", comfy["PublisherId"]) and comfy["DisplayName"]
    # the icon: a square image of at most 400 x 400 pixels, served from this repository's docs/
    icon = comfy["Icon"]
    assert icon.startswith("https://") and icon.endswith(".png")
    with Image.open(os.path.join(ROOT, "docs", os.path.basename(icon))) as image:
        assert image.width == image.height <= 400


def test_comfyui_reads_the_pyproject_and_its_version_meets_requires_comfyui(comfy):
    from comfy_config.config_parser import extract_node_configuration
    from comfyui_version import __version__
    from packaging.specifiers import SpecifierSet
    config = extract_node_configuration(ROOT)
    assert config.project.name == PYPROJECT["project"]["name"]
    assert config.tool_comfy.publisher_id == PYPROJECT["tool"]["comfy"]["PublisherId"]
    assert config.project.supported_os == ["OS Independent"]
    assert __version__ in SpecifierSet(config.project.supported_comfyui_version), "the tested ComfyUI is excluded"


def test_requirements_add_nothing_comfyui_already_brings():
    from comfy_server import comfy_path

    def names(path: str) -> set[str]:
        with open(path) as f:
            lines = [line.split("#")[0].strip() for line in f]
        return {re.split(r"[<>=~!\[ ]", line)[0].lower() for line in lines if line}

    ours = names(os.path.join(ROOT, "requirements.txt")) | {re.split(r"[<>=~!\[ ]", d)[0].lower()
                                                            for d in PYPROJECT["project"]["dependencies"]}
    assert not ours & names(os.path.join(comfy_path(), "requirements.txt"))


def test_every_template_has_metadata_a_thumbnail_and_the_packs_demo_first():
    assert sorted(t["name"] for t in TEMPLATES) == workflow_names()
    first = load_workflow(TEMPLATES[0]["name"])
    assert any(n["class_type"] == "StreamDiTLoader" for n in first.values()), "the pack's own demo is not first"
    assert len({t["title"] for t in TEMPLATES}) == len(TEMPLATES)
    for template in TEMPLATES:
        # the template browser shows - and _ in descriptions as spaces
        assert template["description"] and not re.search(r"[-_]", template["description"]), template
        for subtype in {"jpg", template["mediaSubtype"]}:
            with Image.open(os.path.join(WORKFLOWS, f"{template['name']}.{subtype}")) as thumbnail:
                assert thumbnail.width == thumbnail.height >= 256
                assert subtype != "webp" or thumbnail.n_frames > 8   # an animation of a real run


@pytest.mark.parametrize("name", workflow_names())
def test_every_node_names_its_pack_and_every_download_its_link(comfy, name):
    import folder_paths
    ui = load_workflow(name, api=False)
    for node in ui["nodes"]:
        if node["type"] == "MarkdownNote":
            continue
        expected = PYPROJECT["project"]["name"] if node["type"].startswith("StreamDiT") else "comfy-core"
        assert node["properties"]["cnr_id"] == expected, node["type"]
        files = {v for v in node["widgets_values"] if isinstance(v, str) and v.endswith(".safetensors")}
        listed = {m["name"]: m for m in node["properties"].get("models", [])}
        assert files - OWN_MODELS == set(listed), f"{node['type']}: downloads listed {set(listed)}, files {files}"
        for model in listed.values():
            assert model["url"].startswith("https://huggingface.co/") and model["url"].endswith("/" + model["name"])
            assert model["directory"] in folder_paths.folder_names_and_paths, model   # a ComfyUI models folder
