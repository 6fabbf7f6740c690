"""The report is written where torch is absent."""

import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_report_works_with_torch_blocked(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any "import torch" now raises ImportError
        sys.path.insert(0, {str(HERE)!r})
        from pathlib import Path
        from report_support import write_result
        from accelsim.report import write_report
        folder = Path({str(tmp_path)!r})
        results = [write_result(folder, "dense"),
                   write_result(folder, "db", method="dropback", compression=25)]
        written = write_report(results, folder / "report")
        print("ok", len(written))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=HERE.parents[1], timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
