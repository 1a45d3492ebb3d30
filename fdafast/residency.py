"""Weight residency across a network: where every layer's weights live, in how many
copies, on how many chips, and what is rewritten for every batch.

``execution.residency = 'pipelined'`` (ISAAC's execution model)
    Every layer's weights stay resident, each layer on crossbars of its own,
    across ``execution.chips`` chips (by default the fewest that hold one
    copy of every layer).  The crossbars left over hold replicas that
    balance the layer pipeline: the replication minimises the slowest
    layer's time per frame (a bisection on that time; a layer's time with
    ``r`` copies comes from the closed form, its FFT, MAC and buffer units
    being those of the tiles its crossbars occupy, ``copies x crossbars /
    crossbars per tile``, so replication scales every stage but the
    off-chip one).  Frames flow through the layers as a pipeline: the
    throughput is set by the slowest layer, a frame's latency is the sum of
    the layers' frame times (a layer starts a frame when the previous one
    has finished it; ISAAC also overlaps layers within a frame, so its
    single-frame latency is lower), and activations stay in the buffers
    between layers.  Layers are laid out on the chips in order; a layer's
    input crosses to the chips of the layer that hold none of the previous
    layer (their share of it when the layer's copies partition the items, all
    of it to each when one copy is split over chips by output columns), and
    the part of it made on chips the layer does not use crosses once
    (``link_byte``).  By default the chips are "as many as needed" for the
    weights and the balancing replicas: from the fewest that hold one copy,
    a quarter more at a time while the frame rate per chip grows.  No weight
    is ever rewritten.

``'reprogram'`` (layer by layer on ``execution.chips`` chips, 1 by default)
    Each layer runs alone on all the chips' units.  When one copy of every
    layer fits, all stay resident and the crossbars left over hold
    permanent replicas, spread to minimise the sum of the layers' times
    (``r`` proportional to ``sqrt(time / crossbars)``, capped where another
    stage becomes the bottleneck).  Otherwise a *scratch* region of ``S``
    crossbars is rewritten in turn and the rest holds resident weights:
    whole layers, smallest first, then part of the next (partial folds:
    only what does not fit is rewritten).  A layer with ``m`` crossbars
    outside the resident region programs them ``S`` at a time, one pass
    over its items per fold; a layer that fits in the scratch (or is
    resident) may also program temporary copies there.  ``S``, the copies
    and, for frequency-domain designs, how rewritten weights are loaded
    (spectra from DRAM, or kernels transformed on chip) are chosen by
    ``execution.objective``.  A scratch cell is programmed once per write
    phase, so the most-written cell sees ``writes_per_batch`` writes per
    batch; with ``crossbar.endurance_writes`` that sets the lifetime.

Digital designs (no crossbars): ``'reprogram'`` streams every layer's weights
from DRAM while it runs; ``'pipelined'`` keeps them in the chips' SRAM
(``memory.buffer_kb_per_tile``, all of it taken for weights) and gives each
layer a share of the tiles proportional to its work.

Activations (``'reprogram'``) are decided per tensor: the output of a layer
that the next layer reads stays on chip only if it fits the buffers with
the producer's input and with the consumer's output; the network's input is
read from and its output written to DRAM.
"""
import dataclasses
import heapq
import math

from .arch.execution import Residency, WeightLoad
from .arch.spec import Kind
from .dataflow import MappingError, activation_bytes
from .placement import LayerCoster, Placement, closed_form_units, objective

__all__ = ["NetworkPlan", "alone", "spills", "plan", "infer_pools"]


@dataclasses.dataclass(frozen=True)
class NetworkPlan:
    """Where a network's weights live (see the module docstring).

    Attributes
    ----------
    residency : str
    chips : int
    placements : tuple of Placement
        One per layer.
    capacity, footprint : int
        Crossbars of the chips and of one copy of every layer (SRAM bytes for a
        digital design).
    scratch : int
        Crossbars rewritten in turn (``'reprogram'``).
    writes_per_batch : int
        The most times one cell is programmed for every batch.
    """

    residency: str
    chips: int
    placements: tuple
    capacity: int
    footprint: int
    scratch: int = 0
    writes_per_batch: int = 0


# -- activations ------------------------------------------------------------------------
def _feeds(a, b, acc):
    """True when layer ``b`` reads layer ``a``'s (pooled) output."""
    out = a.pooled_spatial if acc.execution.pool_on_chip else a.output_spatial
    if b.kind == "linear":
        return b.cin == a.cout * math.prod(out)
    return b.cin == a.cout and b.spatial == out


def spills(layers, acc):
    """Per layer, (input in DRAM, output in DRAM) as the module docstring says."""
    if acc.execution.residency == Residency.PIPELINED.value:
        return [(i == 0, i == len(layers) - 1) for i in range(len(layers))]
    cap = acc.organisation.tiles * acc.memory.buffer_kb_per_tile * 1024
    cap *= acc.execution.chips or 1
    over = [sum(activation_bytes(l, acc)) > cap for l in layers]
    out = [[over[i], over[i]] for i in range(len(layers))]
    out[0][0] = out[-1][1] = True
    for i in range(len(layers) - 1):
        if _feeds(layers[i], layers[i + 1], acc):
            out[i][1] = out[i + 1][0] = over[i] or over[i + 1]
    return [tuple(s) for s in out]


def infer_pools(layers):
    """``layers`` with every unstated ``pool`` (None) inferred from the next layer: the
    per-axis factor that shrinks this layer's output to the next layer's input
    (``ceil(out / p)``), or the uniform factor that turns it into a linear
    layer's features; ``()`` when the next layer does not read it that way."""
    out = []
    for i, layer in enumerate(layers):
        if layer.pool is None:
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            layer = dataclasses.replace(layer, pool=_pool_between(layer, nxt))
        out.append(layer)
    return out


def _pool_between(a, b):
    o = a.output_spatial
    if b is None or not o:
        return ()
    if b.kind == "linear":
        for p in range(1, max(o) + 1):
            if a.cout * math.prod(-(-n // p) for n in o) == b.cin:
                return () if p == 1 else (p,) * len(o)
        return ()
    if b.cin != a.cout or len(b.spatial) != len(o):
        return ()
    pool = []
    for n, s in zip(o, b.spatial):
        p = next((p for p in range(1, n + 1) if -(-n // p) == s), None)
        if p is None:
            return ()
        pool.append(p)
    return () if all(p == 1 for p in pool) else tuple(pool)


# -- one layer ---------------------------------------------------------------------------
def _loads(lmap, acc):
    """How rewritten (or streamed) weights of ``lmap`` may be loaded."""
    if "frequency" not in lmap.weight_bytes:
        return ("spatial",)
    wl = acc.execution.weight_load
    return ("frequency", "spatial") if wl == WeightLoad.AUTO.value else (wl,)


def _best(coster, acc, candidates):
    """The (value, cycles, energy, placement) of the best of ``candidates`` (each with
    every allowed weight load when it loads weights)."""
    kind = acc.execution.objective
    best = None
    loads = _loads(coster.lmap, acc)
    for pl in candidates:
        for load in (loads if pl.loaded else (None,)):
            p = pl._replace(weight_load=load)
            c, e = coster(p)
            v = objective(kind, c, e)
            if best is None or v < best[0]:
                best = (v, c, e, p)
    return best


def _copy_counts(most):
    """Copy counts worth trying up to ``most``: powers of 4 and ``most`` itself."""
    out, r = [], 1
    while r < most:
        out.append(r)
        r *= 4
    return out + [max(1, most)]


def _scratch_candidates(base, n, resident, scratch, items):
    """Placements of a layer of ``n`` crossbars with ``resident`` of them resident and
    a scratch of ``scratch`` crossbars."""
    m = n - resident
    if m == 0:                     # resident: temporary copies in the scratch
        return [base._replace(copies=r, resident=n, written=(r - 1) * n, phases=int(r > 1),
                              loaded=1.0 if r > 1 else 0.0)
                for r in _copy_counts(min(items, 1 + scratch // n))]
    if resident == 0 and n <= scratch:
        return [base._replace(copies=r, written=r * n, phases=1, loaded=1.0)
                for r in _copy_counts(min(items, scratch // n))]
    passes = -(-m // scratch)
    return [base._replace(passes=passes, resident=resident, written=m, phases=passes,
                          loaded=m / n)]


def _base(acc):
    chips = acc.execution.chips or 1
    return Placement(tiles=chips * acc.organisation.tiles, chips=chips)


def alone(lmap, acc, table=None):
    """(cycles, energy pJ) of ``lmap`` alone: the reference of
    :func:`fdafast.mapping.choose`.  ``'pipelined'``: one chip's worth of crossbars,
    copies of the weights with the units of their tiles, nothing rewritten; a layer
    that needs more than a chip is charged its frame time times the chips it needs
    (options compete for the same hardware; a digital design: one chip's units,
    weights in SRAM).  ``'reprogram'``: on
    ``execution.chips``, replicated when it fits, partially folded when it does not,
    weights loaded the cheaper way (a digital design streams them)."""
    coster = LayerCoster(lmap, acc, table)
    org, n = acc.organisation, lmap.crossbars
    if acc.execution.residency == Residency.PIPELINED.value:
        if acc.kind is Kind.DIGITAL_FFT:
            return coster(Placement(tiles=org.tiles, chips=1))
        per_tile = org.pe_arrays_per_tile * org.crossbars_per_pe_array
        cycles, energy = coster(Placement(tiles=n / per_tile, resident=n))
        return cycles * n / org.crossbars, energy
    base = _base(acc)
    if acc.kind is Kind.DIGITAL_FFT:
        return _best(coster, acc, [base._replace(loaded=1.0, stream=True)])[1:3]
    cap = int(base.chips) * org.crossbars
    if n <= cap:
        return coster(base._replace(copies=min(cap // n, lmap.items), resident=n))
    cands = []
    for k in range(0, 7):
        scratch = max(1, cap >> k)
        cands += _scratch_candidates(base, n, cap - scratch, scratch, lmap.items)
    return _best(coster, acc, cands)[1:3]


# -- reprogram -------------------------------------------------------------------------------
def _mac_service(coster, base):
    st = coster.stages(base)
    x = next(s.service for s in st if s.name == "mac")
    return x, max((s.service for s in st if s.name != "mac"), default=0)


def _spread(costers, base, spare):
    """Permanent copies per layer using ``spare`` crossbars: ``r`` proportional to
    ``sqrt(time / crossbars)`` (minimising the sum of ``time / r`` under the budget),
    capped where another stage, not the crossbars, bounds the layer."""
    n = [c.lmap.crossbars for c in costers]
    cap, weight = [], []
    for c in costers:
        x, other = _mac_service(c, base)
        items = c.lmap.items
        cap.append(max(1, min(items, items if other == 0 else math.ceil(x / other))))
        weight.append(math.sqrt(items * x))
    budget = spare + sum(n)

    def copies(k):
        return [max(1, min(c, int(k * w / math.sqrt(ni)))) for w, ni, c in zip(weight, n, cap)]

    def fits(k):
        return sum(a * b for a, b in zip(copies(k), n)) <= budget
    lo, hi = 0.0, 1.0
    while fits(hi):
        if copies(hi) == cap or hi > 1e30:
            return copies(hi)
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return copies(lo)


def _reprogram(costers, acc):
    base = _base(acc)
    cap = int(base.chips) * acc.organisation.crossbars
    lmaps = [c.lmap for c in costers]
    need = sum(lm.crossbars for lm in lmaps)
    if need <= cap:
        reps = _spread(costers, base, cap - need)
        pls = [base._replace(copies=r, resident=lm.crossbars) for lm, r in zip(lmaps, reps)]
        return NetworkPlan(Residency.REPROGRAM.value, int(base.chips), tuple(pls), cap, need)
    best = None
    for scratch in sorted({max(1, cap >> k) for k in range(0, 8)}
                          | {lm.crossbars for lm in lmaps if lm.crossbars <= cap}):
        pls, total_c, total_e = [], 0.0, 0.0
        for c, r in zip(costers, _residents(lmaps, cap - scratch)):
            _, cyc, e, pl = _best(c, acc, _scratch_candidates(base, c.lmap.crossbars, r,
                                                              scratch, c.lmap.items))
            pls.append(pl)
            total_c, total_e = total_c + cyc, total_e + e
        value = objective(acc.execution.objective, total_c, total_e)
        if best is None or value < best[0]:
            best = (value, scratch, pls)
    _, scratch, pls = best
    return NetworkPlan(Residency.REPROGRAM.value, int(base.chips), tuple(pls), cap, need,
                       scratch, sum(p.phases for p in pls))


def _residents(lmaps, room):
    """Resident crossbars per layer: whole layers smallest first, then part of the next."""
    res = [0] * len(lmaps)
    for i in sorted(range(len(lmaps)), key=lambda i: lmaps[i].crossbars):
        take = min(lmaps[i].crossbars, room)
        res[i], room = take, room - take
        if room == 0:
            break
    return res


def _reprogram_digital(costers, acc):
    base = _base(acc)._replace(loaded=1.0, stream=True)
    pls = tuple(_best(c, acc, [base])[3] for c in costers)
    return NetworkPlan(Residency.REPROGRAM.value, int(base.chips), pls, 0,
                       sum(_footprint(c.lmap) for c in costers))


# -- pipelined ----------------------------------------------------------------------------
def _frame_timer(coster, base):
    """``t(r)``: closed-form time units of one frame with ``r`` times the copies and
    tiles of ``base`` (pooled tile stages speed up ``r`` times, the crossbars get ``r``
    servers, the off-chip stage does not change)."""
    lm = coster.lmap
    f = lm.items // lm.layer.batch
    svc = [(s.service, w.per) for s, w in zip(coster.stages(base), lm.work)]

    def t(r):                # the closed form, inline: planning calls it thousands of times
        total, worst, span = 0.0, -1.0, 0.0
        for s, per in svc:
            if per == "copy":
                rate, waves = s / min(r, f), -(-f // r) * s
            else:
                s = s / r if per == "tile" else s
                rate, waves = s, f * s
            total += s
            if rate > worst:
                worst, span, bottleneck = rate, waves, s
        return span + total - bottleneck
    return t


def _balance(times, sizes, budget, caps):
    """Shares ``r`` (1 <= r <= cap) per layer with ``sum(r * sizes) <= budget`` that
    bring down the slowest ``times[i](r)``: the slowest layer's share grows by 10 %
    (at least 1) while the budget allows and its time falls."""
    r = [1] * len(times)
    left = budget - sum(sizes)
    heap = [(-t(1), i) for i, t in enumerate(times)]
    heapq.heapify(heap)
    while heap:
        neg, i = heapq.heappop(heap)
        step = min(max(1, r[i] // 10), caps[i] - r[i], left // sizes[i])
        if step < 1:
            break
        now = times[i](r[i] + step)
        if now >= -neg:
            break
        r[i] += step
        left -= step * sizes[i]
        heapq.heappush(heap, (-now, i))
    return r


def _footprint(lm):
    return lm.weight_bytes["frequency"] if lm.mapping == "frequency" else \
        lm.weight_bytes["spatial"]


def _pipelined(costers, acc):
    org = acc.organisation
    lmaps = [c.lmap for c in costers]
    digital = acc.kind is Kind.DIGITAL_FFT
    per_chip = org.tiles * acc.memory.buffer_kb_per_tile * 1024 if digital else org.crossbars
    sizes = [_footprint(lm) for lm in lmaps] if digital else [lm.crossbars for lm in lmaps]
    need = sum(sizes)
    least = int(-(-need // per_chip))
    chips = acc.execution.chips
    if chips is not None and chips < least:
        raise MappingError(f"execution.chips = {chips}: pipelined residency needs at least "
                           f"{least} {acc.meta.name} chips to hold every layer's weights")
    if digital:
        return _pipelined_digital(costers, acc, chips or least, per_chip, need)
    per_tile = org.pe_arrays_per_tile * org.crossbars_per_pe_array
    timers = [_frame_timer(c, Placement(tiles=c.lmap.crossbars / per_tile)) for c in costers]
    caps = [max(1, lm.items // lm.layer.batch) for lm in lmaps]

    def layout(n):
        reps = _balance(timers, sizes, n * per_chip, caps)
        spans, start = [], 0
        for lm, r in zip(lmaps, reps):
            spans.append((start, start + lm.crossbars * r))
            start += lm.crossbars * r
        pls = []
        for i, (lm, r) in enumerate(zip(lmaps, reps)):
            link = 0 if i == 0 else _link_bytes(activation_bytes(lm.layer, acc)[0],
                                                spans[i - 1], spans[i], r, per_chip)
            pls.append(Placement(copies=r, tiles=r * lm.crossbars / per_tile,
                                 chips=len(_chips(spans[i], per_chip)), resident=lm.crossbars,
                                 link_bytes=link))
        frame = max(closed_form_units(c.lmap.items // c.lmap.layer.batch, c.stages(p))
                    for c, p in zip(costers, pls))
        return 1 / frame / n, pls
    if chips is None:           # as many as needed: while the frame rate per chip grows
        chips = least
        best = layout(chips)
        while chips < 8 * least:
            more = chips + max(1, chips // 4)
            trial = layout(more)
            if trial[0] <= best[0] * (1 + 1e-9):
                break
            chips, best = more, trial
        pls = best[1]
    else:
        pls = layout(chips)[1]
    return NetworkPlan(Residency.PIPELINED.value, chips, tuple(pls), chips * per_chip, need)


def _chips(span, per_chip):
    """{chip: crossbars of ``span`` = (start, end) on it}."""
    start, end = span
    return {c: min(end, (c + 1) * per_chip) - max(start, c * per_chip)
            for c in range(start // per_chip, (end - 1) // per_chip + 1)}


def _link_bytes(inb, prev, this, copies, per_chip):
    """Bytes of a layer's input ``inb`` that cross chips: to the layer's chips that hold
    none of the previous layer (its share of the items when its copies partition
    them, all of it per chip when one copy is split over chips by columns), and the
    part of the previous layer's output made on chips this layer does not use."""
    p, t = _chips(prev, per_chip), _chips(this, per_chip)
    new = [c for c in t if c not in p]
    if copies >= len(t):
        into = inb * sum(t[c] for c in new) / (this[1] - this[0])
    else:
        into = inb * len(new)
    away = inb * sum(v for c, v in p.items() if c not in t) / (prev[1] - prev[0])
    return math.ceil(into + away)


def _pipelined_digital(costers, acc, chips, per_chip, need):
    """Weights in SRAM; each layer gets a share of the tiles (in 1/64 tile steps)."""
    steps = 64
    total = chips * acc.organisation.tiles * steps
    timers = [_frame_timer(c, Placement(tiles=1 / steps, chips=chips)) for c in costers]
    shares = _balance(timers, [1] * len(costers), total, [total] * len(costers))
    pls = tuple(Placement(tiles=s / steps, chips=chips) for s in shares)
    return NetworkPlan(Residency.PIPELINED.value, chips, pls, chips * per_chip, need)


def plan(lmaps, acc, table=None):
    """The :class:`NetworkPlan` of the mapped layers ``lmaps`` on ``acc``."""
    table = acc.action_table() if table is None else table
    costers = [LayerCoster(lm, acc, table) for lm in lmaps]
    if acc.execution.residency == Residency.PIPELINED.value:
        return _pipelined(costers, acc)
    if acc.kind is Kind.DIGITAL_FFT:
        return _reprogram_digital(costers, acc)
    return _reprogram(costers, acc)
