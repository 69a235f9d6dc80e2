"""The engine registry as data: each engine's ``module:Class`` target, capabilities, params with types
and ranges, the languages it accepts, the pre-made voices read from model files, and what the read-back
recogniser can hear of it (hearing.py), and the IPA symbols each can speak (symbols.py: a lexicon's
phoneme rules are checked against them). Imports the kernel only; never an engine library.
"""
