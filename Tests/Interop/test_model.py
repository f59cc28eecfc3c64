"""The formal model of fencing (Protocol/model/fencing.pml) still verifies, and its variants without
the live-holder compare and without the gateway check still fail, as spin finds them."""
import pathlib
import subprocess

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


def test_spin_model_results_are_unchanged():
    result = subprocess.run([str(REPOSITORY / "Protocol" / "model" / "check.sh")], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "with the gateway check: no violation" in result.stdout
    assert "without the live-holder compare: assertion violated" in result.stdout
    assert "without the gateway check: assertion violated" in result.stdout
