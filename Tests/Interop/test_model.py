"""The formal models of fencing still verify — one gateway (Protocol/model/fencing.pml) and cluster
mode's gateways on a linearizable store (cluster.pml) — and their variants without the live-holder
compare, or with no check at the commit, still fail, as spin finds them."""
import pathlib
import subprocess

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


def test_spin_model_results_are_unchanged():
    result = subprocess.run([str(REPOSITORY / "Protocol" / "model" / "check.sh")], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fencing, with the gateway check: no violation" in result.stdout
    assert "fencing, without the live-holder compare: assertion violated" in result.stdout
    assert "fencing, without the gateway check: assertion violated" in result.stdout
    assert "cluster, with the commit's compares: no violation" in result.stdout
    assert "cluster, without the holder compare: assertion violated" in result.stdout
    assert "cluster, deciding on the snapshot alone: assertion violated" in result.stdout
