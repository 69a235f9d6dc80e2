"""Text intake and planning: documents -> chapters -> paragraphs -> sentence-packed chunks."""
