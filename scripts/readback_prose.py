"""Public-domain English prose for scripts/bench_readback.py: the openings of four 19th-century books
(Austen, Pride and Prejudice, 1813; Stevenson, Strange Case of Dr Jekyll and Mr Hyde, 1886; Dickens, A Tale
of Two Cities, 1859; Conan Doyle, A Scandal in Bohemia, 1891), as a Markdown book of four chapters.
About 2,200 words.  Typed from the public-domain texts; small differences from a given edition do not
matter here, since both arms of the benchmark read exactly this text."""

AUSTEN = """It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in \
want of a wife.

However little known the feelings or views of such a man may be on his first entering a neighbourhood, this \
truth is so well fixed in the minds of the surrounding families, that he is considered the rightful property \
of some one or other of their daughters.

"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park is let at last?"

Mr. Bennet replied that he had not.

"But it is," returned she; "for Mrs. Long has just been here, and she told me all about it."

Mr. Bennet made no answer.

"Do you not want to know who has taken it?" cried his wife impatiently.

"You want to tell me, and I have no objection to hearing it."

This was invitation enough.

"Why, my dear, you must know, Mrs. Long says that Netherfield is taken by a young man of large fortune from \
the north of England; that he came down on Monday in a chaise and four to see the place, and was so much \
delighted with it, that he agreed with Mr. Morris immediately; that he is to take possession before \
Michaelmas, and some of his servants are to be in the house by the end of next week."

"What is his name?"

"Bingley."

"Is he married or single?"

"Oh! Single, my dear, to be sure! A single man of large fortune; four or five thousand a year. What a fine \
thing for our girls!"

"How so? How can it affect them?"

"My dear Mr. Bennet," replied his wife, "how can you be so tiresome! You must know that I am thinking of his \
marrying one of them."

"Is that his design in settling here?"

"Design! Nonsense, how can you talk so! But it is very likely that he may fall in love with one of them, and \
therefore you must visit him as soon as he comes."

"I see no occasion for that. You and the girls may go, or you may send them by themselves, which perhaps \
will be still better, for as you are as handsome as any of them, Mr. Bingley may like you the best of the \
party."

"My dear, you flatter me. I certainly have had my share of beauty, but I do not pretend to be anything \
extraordinary now. When a woman has five grown-up daughters, she ought to give over thinking of her own \
beauty."

"In such cases, a woman has not often much beauty to think of."

"But, my dear, you must indeed go and see Mr. Bingley when he comes into the neighbourhood."

"It is more than I engage for, I assure you."

"But consider your daughters. Only think what an establishment it would be for one of them. Sir William and \
Lady Lucas are determined to go, merely on that account, for in general, you know, they visit no newcomers. \
Indeed you must go, for it will be impossible for us to visit him if you do not."

"You are over-scrupulous, surely. I dare say Mr. Bingley will be very glad to see you; and I will send a few \
lines by you to assure him of my hearty consent to his marrying whichever he chooses of the girls; though I \
must throw in a good word for my little Lizzy."

"I desire you will do no such thing. Lizzy is not a bit better than the others; and I am sure she is not \
half so handsome as Jane, nor half so good-humoured as Lydia. But you are always giving her the preference."

"They have none of them much to recommend them," replied he; "they are all silly and ignorant like other \
girls; but Lizzy has something more of quickness than her sisters."

"Mr. Bennet, how can you abuse your own children in such a way? You take delight in vexing me. You have no \
compassion for my poor nerves."

"You mistake me, my dear. I have a high respect for your nerves. They are my old friends. I have heard you \
mention them with consideration these last twenty years at least."

"Ah, you do not know what I suffer."

"But I hope you will get over it, and live to see many young men of four thousand a year come into the \
neighbourhood."

"It will be no use to us, if twenty such should come, since you will not visit them."

"Depend upon it, my dear, that when there are twenty, I will visit them all."

Mr. Bennet was so odd a mixture of quick parts, sarcastic humour, reserve, and caprice, that the experience \
of three-and-twenty years had been insufficient to make his wife understand his character. Her mind was less \
difficult to develop. She was a woman of mean understanding, little information, and uncertain temper. When \
she was discontented, she fancied herself nervous. The business of her life was to get her daughters \
married; its solace was visiting and news."""

STEVENSON = """Mr. Utterson the lawyer was a man of a rugged countenance that was never lighted by a smile; \
cold, scanty and embarrassed in discourse; backward in sentiment; lean, long, dusty, dreary and yet somehow \
lovable. At friendly meetings, and when the wine was to his taste, something eminently human beaconed from \
his eye; something indeed which never found its way into his talk, but which spoke not only in these silent \
symbols of the after-dinner face, but more often and loudly in the acts of his life. He was austere with \
himself; drank gin when he was alone, to mortify a taste for vintages; and though he enjoyed the theatre, \
had not crossed the doors of one for twenty years. But he had an approved tolerance for others; sometimes \
wondering, almost with envy, at the high pressure of spirits involved in their misdeeds; and in any \
extremity inclined to help rather than to reprove.

No doubt the feat was easy to Mr. Utterson; for he was undemonstrative at the best, and even his friendship \
seemed to be founded in a similar catholicity of good-nature. It is the mark of a modest man to accept his \
friendly circle ready-made from the hands of opportunity; and that was the lawyer's way. His friends were \
those of his own blood or those whom he had known the longest; his affections, like ivy, were the growth of \
time, they implied no aptness in the object. Hence, no doubt, the bond that united him to Mr. Richard \
Enfield, his distant kinsman, the well-known man about town. It was a nut to crack for many, what these two \
could see in each other, or what subject they could find in common. It was reported by those who \
encountered them in their Sunday walks, that they said nothing, looked singularly dull, and would hail with \
obvious relief the appearance of a friend. For all that, the two men put the greatest store by these \
excursions, counted them the chief jewel of each week, and not only set aside occasions of pleasure, but \
even resisted the calls of business, that they might enjoy them uninterrupted.

It chanced on one of these rambles that their way led them down a by-street in a busy quarter of London. \
The street was small and what is called quiet, but it drove a thriving trade on the weekdays. The \
inhabitants were all doing well, it seemed, and all emulously hoping to do better still, and laying out the \
surplus of their gains in coquetry; so that the shop fronts stood along that thoroughfare with an air of \
invitation, like rows of smiling saleswomen. Even on Sunday, when it veiled its more florid charms and lay \
comparatively empty of passage, the street shone out in contrast to its dingy neighbourhood, like a fire in a \
forest; and with its freshly painted shutters, well-polished brasses, and general cleanliness and gaiety of \
note, instantly caught and pleased the eye of the passenger.

Two doors from one corner, on the left hand going east, the line was broken by the entry of a court; and \
just at that point, a certain sinister block of building thrust forward its gable on the street. It was two \
storeys high; showed no window, nothing but a door on the lower storey and a blind forehead of discoloured \
wall on the upper; and bore in every feature, the marks of prolonged and sordid negligence. The door, which \
was equipped with neither bell nor knocker, was blistered and distained. Tramps slouched into the recess and \
struck matches on the panels; children kept shop upon the steps; the schoolboy had tried his knife on the \
mouldings; and for close on a generation, no one had appeared to drive away these random visitors or to \
repair their ravages."""

DICKENS = """It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of \
foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was \
the season of Darkness, it was the spring of hope, it was the winter of despair, we had everything before \
us, we had nothing before us, we were all going direct to Heaven, we were all going direct the other way; in \
short, the period was so far like the present period, that some of its noisiest authorities insisted on its \
being received, for good or for evil, in the superlative degree of comparison only.

There were a king with a large jaw and a queen with a plain face, on the throne of England; there were a king \
with a large jaw and a queen with a fair face, on the throne of France. In both countries it was clearer than \
crystal to the lords of the State preserves of loaves and fishes, that things in general were settled for \
ever.

It was the year of Our Lord one thousand seven hundred and seventy-five. Spiritual revelations were conceded \
to England at that favoured period, as at this. Mrs. Southcott had recently attained her five-and-twentieth \
blessed birthday, of whom a prophetic private in the Life Guards had heralded the sublime appearance by \
announcing that arrangements were made for the swallowing up of London and Westminster. Even the Cock-lane \
ghost had been laid only a round dozen of years, after rapping out its messages, as the spirits of this very \
year last past rapped out theirs. Mere messages in the earthly order of events had lately come to the \
English Crown and People, from a congress of British subjects in America: which, strange to relate, have \
proved more important to the human race than any communications yet received through any of the chickens \
of the Cock-lane brood."""

DOYLE = """To Sherlock Holmes she is always the woman. I have seldom heard him mention her under any other \
name. In his eyes she eclipses and predominates the whole of her sex. It was not that he felt any emotion \
akin to love for Irene Adler. All emotions, and that one particularly, were abhorrent to his cold, precise but \
admirably balanced mind. He was, I take it, the most perfect reasoning and observing machine that the world \
has seen, but as a lover he would have placed himself in a false position. He never spoke of the softer \
passions, save with a gibe and a sneer. They were admirable things for the observer, excellent for drawing \
the veil from men's motives and actions. But for the trained reasoner to admit such intrusions into his own \
delicate and finely adjusted temperament was to introduce a distracting factor which might throw a doubt \
upon all his mental results. Grit in a sensitive instrument, or a crack in one of his own high-power lenses, \
would not be more disturbing than a strong emotion in a nature such as his. And yet there was but one woman \
to him, and that woman was the late Irene Adler, of dubious and questionable memory.

I had seen little of Holmes lately. My marriage had drifted us away from each other. My own complete \
happiness, and the home-centred interests which rise up around the man who first finds himself master of his \
own establishment, were sufficient to absorb all my attention, while Holmes, who loathed every form of \
society with his whole Bohemian soul, remained in our lodgings in Baker Street, buried among his old books, \
and alternating from week to week between cocaine and ambition, the drowsiness of the drug, and the fierce \
energy of his own keen nature. He was still, as ever, deeply attracted by the study of crime, and occupied \
his immense faculties and extraordinary powers of observation in following out those clues, and clearing up \
those mysteries which had been abandoned as hopeless by the official police."""

CHAPTERS = [("Pride and Prejudice", AUSTEN), ("The Story of the Door", STEVENSON),
            ("A Tale of Two Cities", DICKENS), ("A Scandal in Bohemia", DOYLE)]


def book(chapters=CHAPTERS) -> str:
    """The prose as Markdown: one chapter per book."""
    return "\n\n".join(f"# {title}\n\n{text}" for title, text in chapters)
