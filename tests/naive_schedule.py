"""A cycle-by-cycle simulation of the pipeline rules of csrc/schedule.c.

Taken literally, one clock cycle at a time, with explicit units and buffers:
stage s has ``servers[s]`` units, each holding at most one item for
``service[s]`` cycles; finished items wait in the buffer after the stage;
items move in order.  A unit of stage s may take the next item (the oldest
one finished at s-1, or the next new item at stage 0) when it is free and
the items in service at s plus those waiting after s number fewer than
``servers[s] + capacity[s]`` (no limit after the last stage).  Within a
cycle, moves are repeated until none is possible, so zero-cycle stages pass
items on at once.  Slow (O(cycles * stages)); for small cases only.
"""


def pipeline(nitems, service, servers, capacity):
    """(makespan, starts) where starts[i][s] is the cycle item i started stage s."""
    ns = len(service)
    starts = [[None] * ns for _ in range(nitems)]
    finish = [[None] * ns for _ in range(nitems)]
    nxt = [0] * ns                 # next item each stage takes
    t = 0
    while True:
        moved = True
        while moved:
            moved = False
            for s in range(ns):
                i = nxt[s]
                if i >= nitems:
                    continue
                if s > 0 and (finish[i][s - 1] is None or finish[i][s - 1] > t):
                    continue                        # not done upstream yet
                busy = [j for j in range(i) if starts[j][s] is not None
                        and starts[j][s] + service[s] > t]
                if len(busy) >= servers[s]:
                    continue                        # every unit occupied
                held = i - (nxt[s + 1] if s + 1 < ns else i)   # in service or waiting after s
                if s + 1 < ns and held >= servers[s] + capacity[s]:
                    continue                        # no room after the stage
                starts[i][s] = t
                finish[i][s] = t + service[s]
                nxt[s] += 1
                moved = True
        if all(f[-1] is not None and f[-1] <= t for f in finish):
            return max(f[-1] for f in finish), starts
        t += 1
