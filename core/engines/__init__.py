"""The engine registry as data: each engine's ``module:Class`` target, capabilities, params with types
and ranges, the languages it accepts, and the pre-made voices read from model files. Imports the
kernel only; never an engine library.
"""
