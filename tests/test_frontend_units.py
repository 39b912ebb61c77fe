"""The frontend's own unit tests (``tests/web/*.test.mjs``: the live client, the frame player,
the display loop), run by Node's test runner without a browser. They sit under tests/, not
beside the code: ComfyUI loads every .js file of a pack's web folder into the page."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed (Debian: apt install nodejs)")
def test_the_frontend_unit_tests_pass():
    # ES modules in plain .js files, as the browser loads them: Node 20 detects them with this flag
    result = subprocess.run([NODE, "--experimental-detect-module", "--test", os.path.join(ROOT, "tests", "web")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    summary = [line for line in result.stdout.splitlines() if line.startswith(("# pass", "# fail", "not ok"))]
    assert result.returncode == 0, "\n".join(summary) + "\n" + result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in summary and not any(line.startswith("# pass 0") for line in summary), summary
