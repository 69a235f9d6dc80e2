"""Text intake and planning: documents -> chapters -> paragraphs -> sentence-packed chunks.

Owns the document model (chapters, paragraphs), the readers of plain text, Markdown and EPUB
(untrusted input, parsed defensively), and sentence-aware chunking.  Imports core.errors only.
"""
