"""Accelerator descriptions (architecture, component and action tables) and presets.

>>> import fdafast
>>> fdafast.presets()
('asic-fft', 'fda', 'isaac')
>>> s = fdafast.Accelerator.from_preset("isaac").summary()
>>> round(s["chip_power_w"], 1), round(s["chip_area_mm2"], 1)
(65.8, 85.4)
"""
from .spec import (ACTIONS, KINDS, LEVELS, Accelerator, Action, ArchError, Component,
                   CrossbarSpec, DigitalSpec, FrequencySpec, Hermitian, Kind, Memory, Meta,
                   Organisation, Scaling, Technology, preset_data, presets)

__all__ = ["Accelerator", "Action", "ArchError", "Component", "CrossbarSpec", "DigitalSpec",
           "FrequencySpec", "Hermitian", "Kind", "Memory", "Meta", "Organisation", "Scaling",
           "Technology", "presets", "preset_data", "KINDS", "LEVELS", "ACTIONS"]
