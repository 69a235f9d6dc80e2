"""The mixed-length workload of the batching benchmark: real sentences, their lengths, arrivals.

The sentences are opening lines of public-domain novels (Austen, Dickens, Melville, Carroll,
Doyle, Twain, Wells, Stevenson, Tolstoy, Bronte, London, ...), so their lengths are those of real
prose, not a hand-picked spread.  A random-weight Dia never ends on its own, so each item is given
an end-of-speech step proportional to its text: ``frames_for`` turns characters into codec frames at
the registry's speaking rate (15 chars/s, 86 frames/s), times ``scale`` (the CPU benchmark uses a
tenth, 9 to 120 frames, so a run fits on a shared 2-core box; the spread of lengths is unchanged).
"""

from __future__ import annotations

import random

SENTENCES = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife.",
    "Call me Ishmael.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity.",
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do.",
    "To Sherlock Holmes she is always the woman.",
    "You don't know about me without you have read a book by the name of The Adventures of Tom Sawyer; "
    "but that ain't no matter.",
    "The Time Traveller was expounding a recondite matter to us.",
    "Mr. Utterson the lawyer was a man of a rugged countenance that was never lighted by a smile.",
    "Some years ago, never mind how long precisely, having little or no money in my purse, and nothing "
    "particular to interest me on shore, I thought I would sail about a little and see the watery part of "
    "the world.",
    "Once or twice she had peeped into the book her sister was reading, but it had no pictures or "
    "conversations in it.",
    "There was no possibility of taking a walk that day.",
    "Happy families are all alike; every unhappy family is unhappy in its own way.",
    "Marley was dead: to begin with.",
    "The mole had been working very hard all the morning, spring-cleaning his little home.",
    "My father's family name being Pirrip, and my Christian name Philip, my infant tongue could make of both "
    "names nothing longer or more explicit than Pip.",
    "Stately, plump Buck Mulligan came from the stairhead, bearing a bowl of lather on which a mirror and a "
    "razor lay crossed.",
    "Whether I shall turn out to be the hero of my own life, or whether that station will be held by "
    "anybody else, these pages must show.",
    "The cold passed reluctantly from the earth, and the retiring fogs revealed an army stretched out on "
    "the hills, resting.",
    "The studio was filled with the rich odour of roses, and when the light summer wind stirred amidst the "
    "trees of the garden, there came through the open door the heavy scent of the lilac.",
    "Mrs. Dalloway said she would buy the flowers herself.",
    "Tom! No answer.",
    "All children, except one, grow up.",
    "Christmas won't be Christmas without any presents, grumbled Jo, lying on the rug.",
    "Robert Cohn was once middleweight boxing champion of Princeton.",
    "In my younger and more vulnerable years my father gave me some advice that I've been turning over in "
    "my mind ever since.",
    "Buck did not read the newspapers, or he would have known that trouble was brewing, not alone for "
    "himself, but for every tide-water dog, strong of muscle and with warm, long hair, from Puget Sound to "
    "San Diego.",
    "Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition, seemed to "
    "unite some of the best blessings of existence.",
]

CHARS_PER_S, FRAMES_PER_S = 15.0, 86.0


def frames_for(text: str, scale: float) -> int:
    """End-of-speech step for ``text``: its speaking time in codec frames, times ``scale``."""
    return max(4, round(len(text) / CHARS_PER_S * FRAMES_PER_S * scale))


def workload(n: int, seed: int = 0) -> list[str]:
    """``n`` sentences drawn (with replacement once the list runs out) in a seeded order."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        out += rng.sample(SENTENCES, min(len(SENTENCES), n - len(out)))
    return out


def poisson_arrivals(n: int, rate_per_s: float, seed: int = 0) -> list[float]:
    """Arrival offsets (seconds) of a Poisson stream: exponential gaps with mean 1/rate."""
    rng = random.Random(seed)
    t, out = 0.0, []
    for _ in range(n):
        out.append(t)
        t += rng.expovariate(rate_per_s)
    return out
