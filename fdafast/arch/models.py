"""Precision-aware component models: how a converter's or a device's numbers move
with the resolution, the array size or the cell levels a design asks for.

Each function returns the *factor* a preset's value (given at its ``reference``
setting) is multiplied by, so that every preset keeps its published point
value at its nominal setting (the factor is exactly 1 there).  The
accelerator description (:mod:`fdafast.arch.spec`) names the model a
component or an action follows (``scaling``); these functions are its
arithmetic, written once and tested on their own.

SAR ADC (``scaling = "adc_bits"``)
----------------------------------
ISAAC (Shafiee et al., ISCA 2016, sec. VII) scales its 8-bit SAR ADC to other
resolutions as a SAR ADC's parts scale (after Saberi et al., IEEE TCAS-I
2011): the reference buffer, SAR memory and clock linearly with the bits
(one comparator decision per bit), the capacitive DAC exponentially (its
unit capacitors double per bit, Walden's figure of merit: constant energy
per conversion step, Walden, IEEE JSAC 1999).  With ``s`` the exponential
share at the reference resolution ``b0``::

    factor(b) = (1 - s) * b / b0  +  s * 2^(b - b0)

The linear part is the floor: a 1-bit conversion still pays for one
decision and the converter's fixed logic.  ``s = 1`` is the pure Walden
figure of merit (fdafast's earlier model).  The presets take the split of
the ISAAC ADC scaling table of the CiMLoop component library (Andrulis,
Emer and Sze, ISPASS 2024), which follows this form exactly: 6.2 % of the
8-bit energy and 45.5 % of its area in the capacitive DAC.  Beyond about 12
bits published ADCs leave this regime for the thermal-noise-limited one
(4x per bit, Schreier's figure of merit; Murmann's ADC survey); fdafast does
not model it and its numbers above 12 bits are optimistic.

A SAR conversion takes one sampling phase and one decision per bit
(McCreary and Gray, IEEE JSSC 1975), so its time scales as ``(b + 1) /
(b0 + 1)``; an ADC running flat out then draws ``energy / time``.

DAC (``scaling = "dac_bits"``)
------------------------------
A multi-bit DAC's switching energy and area grow as ``2^b`` (a capacitive
DAC of ``2^b`` unit elements; ISAAC sec. VII uses the same model, after
Saberi et al.).  ISAAC's 1-bit DAC is the reference.

Cell writes (``scaling = "cell_levels"``)
-----------------------------------------
Program-and-verify of a multi-level cell lands the conductance in one of
``2^b`` windows; fdafast assumes the number of verify pulses, hence a
cell's write energy and a row's write time, grows with the number of
levels above the lowest, ``(2^b - 1) / (2^b0 - 1)`` (an assumption: finer
windows need proportionally more small pulses).

Crossbar reads and array size
-----------------------------
``crossbar_cells``: a read's energy is proportional to ``rows * cols``
(every cell conducts).  A read's *time* grows with the bitline's length:
``read_ns(rows) = t0 * ((1 - f) + f * rows / rows0)``, with ``f`` the part
of the reference read that the bitline's charge and settling take (the rest:
drivers, sample-and-hold acquisition).  fdafast assumes ``f = 0.5`` for
ISAAC's 100 ns at 128 rows.
"""
__all__ = ["sar_adc_factor", "sar_adc_time_factor", "dac_factor", "cell_levels_factor",
           "crossbar_cells_factor", "read_latency_ns"]


def sar_adc_factor(bits, reference, share):
    """``(1 - share) * bits / reference + share * 2**(bits - reference)``: a SAR ADC's
    energy (or area) at ``bits`` relative to ``reference`` bits.

    >>> sar_adc_factor(8, 8, 0.062), sar_adc_factor(9, 8, 1.0)
    (1.0, 2.0)
    """
    return (1.0 - share) * bits / reference + share * 2.0 ** (bits - reference)


def sar_adc_time_factor(bits, reference):
    """``(bits + 1) / (reference + 1)``: a SAR conversion's time, one sampling phase and
    one decision per bit."""
    return (bits + 1) / (reference + 1)


def dac_factor(bits, reference):
    """``2**(bits - reference)``: a capacitive DAC's switching energy and area."""
    return 2.0 ** (bits - reference)


def cell_levels_factor(bits, reference):
    """``(2**bits - 1) / (2**reference - 1)``: a multi-level cell's program-and-verify
    energy and time."""
    return ((1 << bits) - 1) / ((1 << reference) - 1)


def crossbar_cells_factor(rows, cols, reference):
    """``rows * cols / reference``: a crossbar read's energy (``reference`` cells)."""
    return rows * cols / reference


def read_latency_ns(latency_ns, rows, reference_rows, rows_share):
    """A crossbar read's time at ``rows`` rows, ``latency_ns`` at ``reference_rows``:
    ``latency_ns * ((1 - rows_share) + rows_share * rows / reference_rows)``; the
    given latency when ``reference_rows`` is None.

    >>> read_latency_ns(100.0, 256, 128, 0.5)
    150.0
    """
    if reference_rows is None:
        return latency_ns
    return latency_ns * ((1.0 - rows_share) + rows_share * rows / reference_rows)
