"""Accelerator descriptions (organisation, crossbars, component tables) and presets.

>>> import fdafast
>>> fdafast.presets()
('isaac',)
>>> s = fdafast.Accelerator.from_preset("isaac").summary()
>>> round(s["chip_power_w"], 1), round(s["chip_area_mm2"], 1)
(65.8, 85.4)
"""
from .spec import (KINDS, LEVELS, Accelerator, ArchError, Component, CrossbarSpec, Meta,
                   Organisation, Technology, preset_data, presets)

__all__ = ["Accelerator", "ArchError", "Component", "CrossbarSpec", "Meta", "Organisation",
           "Technology", "presets", "preset_data", "KINDS", "LEVELS"]
