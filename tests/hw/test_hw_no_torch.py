"""accelsim.hw imports and loads every preset where torch is absent."""

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_hw_works_with_torch_blocked():
    script = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # any "import torch" now raises ImportError
        from accelsim.hw import list_presets, load_hardware
        presets = [load_hardware(name) for name in list_presets()]
        assert len(presets) >= 5
        print("ok", len(presets))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
