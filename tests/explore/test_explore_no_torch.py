"""accelsim.explore imports and checks a spec where torch is absent."""

import subprocess
import sys
import textwrap

from .conftest import DENSE, ROOT


def test_explore_works_with_torch_blocked(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(f'traces = ["{DENSE}"]\nhardware = "edge-lpddr4"\nsteps = "1:2"\n')
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any "import torch" now raises ImportError
        import accelsim.explore.command, accelsim.explore.executors, accelsim.explore.figure
        import accelsim.explore.store, accelsim.explore.sweep, accelsim.explore.tables
        import accelsim.explore.task
        from accelsim.explore import load_spec
        print("ok", len(load_spec({str(spec)!r}).points))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok 1")
