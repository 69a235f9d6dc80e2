"""The engine registry as data: each engine's ``module:Class`` target, capabilities, params with types
and ranges, the languages it accepts, the pre-made voices read from model files, and what the read-back
recogniser can hear of it (hearing.py). Imports the kernel only; never an engine library.
"""
