"""Audio as numpy arrays and files: decode untrusted input (in a child process), measure, check a
take's quality, stitch chunks into a book, master and encode to every output format. Imports the
kernel and core.engines (sample rates, formats).
"""
