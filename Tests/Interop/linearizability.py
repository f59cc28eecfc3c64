"""A linearizability checker for histories of one register (one object key), as clients saw them:
Wing & Gong's search with Lowe's memoization of (linearized set, state), the same algorithm as
Sources/PalisadeTestSupport/LinearizabilityChecker.swift, for the histories the Python fault runs
record.

An operation is a read (the value it returned, None when the key was absent) or a write that may
have taken effect. A write whose outcome is unknown (a timeout, a dropped connection, a 5xx) is
recorded with `answer=math.inf`: it may take effect at any point after its call, or never (placed
after every other operation it changes nothing anyone saw). Writes that were refused are left out.
"""
import math
import sys
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Operation:
    kind: str  # "read" or "write"
    value: Optional[str]
    call: float
    answer: float = math.inf


def is_linearizable(history, initial=None):
    """Whether some total order of `history`, consistent with real time (an operation answered before
    another was called comes first), explains every read, for a register that starts at `initial`."""
    operations = list(history)
    everything = (1 << len(operations)) - 1
    seen = set()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * len(operations) + 100))

    def search(linearized, state):
        if linearized == everything:
            return True
        if (linearized, state) in seen:
            return False
        seen.add((linearized, state))
        pending = [i for i in range(len(operations)) if not linearized >> i & 1]
        first_answer = min(operations[i].answer for i in pending)
        for i in pending:
            operation = operations[i]
            if operation.call > first_answer:
                continue  # another pending operation was answered before this one was called
            if operation.kind == "read":
                if operation.value == state and search(linearized | 1 << i, state):
                    return True
            elif search(linearized | 1 << i, operation.value):
                return True
        return False

    return search(0, initial)
