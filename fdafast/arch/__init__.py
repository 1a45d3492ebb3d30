"""Accelerator descriptions (architecture, component and action tables) and presets.

>>> import fdafast
>>> fdafast.presets()
('asic-fft', 'fda', 'isaac')
>>> s = fdafast.Accelerator.from_preset("isaac").summary()
>>> round(s["chip_power_w"], 1), round(s["chip_area_mm2"], 1)
(65.8, 85.4)
"""
from .execution import Execution, Mapping, Objective, Residency, WeightLoad
from .spec import (ACTIONS, KINDS, LEVELS, OPTIONAL_ACTIONS, Accelerator, Action, ArchError,
                   Component, CrossbarSpec, DigitalSpec, FrequencySpec, Hermitian, Kind, Memory,
                   Meta, Organisation, Scaling, Technology, preset_data, presets)

__all__ = ["Accelerator", "Action", "ArchError", "Component", "CrossbarSpec", "DigitalSpec",
           "Execution", "FrequencySpec", "Hermitian", "Kind", "Mapping", "Memory", "Meta",
           "Objective", "Organisation", "Residency", "Scaling", "Technology", "WeightLoad",
           "presets", "preset_data", "KINDS", "LEVELS", "ACTIONS", "OPTIONAL_ACTIONS"]
