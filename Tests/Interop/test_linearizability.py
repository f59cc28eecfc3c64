"""The Python linearizability checker accepts what it must and refuses what it must."""
import math

from linearizability import Operation, is_linearizable


def test_sequential_and_concurrent_histories():
    assert is_linearizable([Operation("write", "1", 0, 1), Operation("read", "1", 2, 3)])
    # A read concurrent with a write may see either value.
    assert is_linearizable([Operation("write", "1", 0, 10), Operation("read", None, 1, 2)])
    assert is_linearizable([Operation("write", "1", 0, 10), Operation("read", "1", 1, 2)])


def test_a_stale_read_is_refused():
    # The write was answered before the read was called: the read must see it.
    assert not is_linearizable([Operation("write", "1", 0, 1), Operation("read", None, 2, 3)])
    # Two reads in real-time order cannot see the values of two writes in the opposite order.
    assert not is_linearizable([
        Operation("write", "1", 0, 1), Operation("write", "2", 2, 3),
        Operation("read", "2", 4, 5), Operation("read", "1", 6, 7)])


def test_a_write_of_unknown_outcome_may_or_may_not_have_taken_effect():
    unknown = Operation("write", "2", 2, math.inf)
    assert is_linearizable([Operation("write", "1", 0, 1), unknown, Operation("read", "1", 3, 4)])
    assert is_linearizable([Operation("write", "1", 0, 1), unknown, Operation("read", "2", 3, 4)])
    # But not before its call.
    assert not is_linearizable([Operation("write", "1", 0, 1), Operation("read", "2", 1.5, 1.8),
                                Operation("write", "2", 2, math.inf)])
